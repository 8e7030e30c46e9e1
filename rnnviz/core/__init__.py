"""The GUI-free engine: configs, cells, tasks, recording, training, graphs and traces."""
