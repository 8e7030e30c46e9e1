"""The recurrent network as a dynamical system — no Qt.

    from rnnviz.dynamics import jacobians, fixed_points, lyapunov, connectivity

* :func:`jacobians` — ∂s_t/∂s_{t-1} along a trajectory: singular values per step and the
  largest singular value of their product (why the gradient vanishes or explodes).
* :func:`fixed_points` — states with F(s, x) ≈ s, found by minimising q = ½‖F(s, x) − s‖² from
  many starts at once, linearised and classified (stable / unstable / saddle).
* :func:`lyapunov` and :func:`lyapunov_sweep` — the largest Lyapunov exponents of the autonomous
  network (QR method) and their dependence on the gain of W_hh (the edge of chaos).
* :func:`connectivity` — ‖∂y_t/∂x_s‖, how far back each output reaches.

The state s is h for SimpleRNN and GRU and [h, c] for the LSTM (see :mod:`rnnviz.dynamics.step`).
"""

from rnnviz.dynamics.connectivity import Connectivity, connectivity
from rnnviz.dynamics.fixed_points import FixedPoints, fixed_points
from rnnviz.dynamics.jacobians import Jacobians, jacobians
from rnnviz.dynamics.lyapunov import Lyapunov, LyapunovSweep, lyapunov, lyapunov_sweep
from rnnviz.dynamics.step import StepMap, step_map
from rnnviz.dynamics.trajectory import LayerTrajectory, trajectories

__all__ = ["Connectivity", "FixedPoints", "Jacobians", "LayerTrajectory", "Lyapunov", "LyapunovSweep",
           "StepMap", "connectivity", "fixed_points", "jacobians", "lyapunov", "lyapunov_sweep",
           "step_map", "trajectories"]
