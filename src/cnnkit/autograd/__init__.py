"""Reverse-mode automatic differentiation: Function, the graph engine, grad modes, gradcheck."""

from cnnkit.autograd.engine import backward as backward
from cnnkit.autograd.function import Function as Function
from cnnkit.autograd.gradcheck import GradcheckError as GradcheckError
from cnnkit.autograd.gradcheck import GradcheckResult as GradcheckResult
from cnnkit.autograd.gradcheck import gradcheck as gradcheck
from cnnkit.autograd.grad_mode import AnomalyError as AnomalyError
from cnnkit.autograd.grad_mode import detect_anomaly as detect_anomaly
from cnnkit.autograd.grad_mode import enable_grad as enable_grad
from cnnkit.autograd.grad_mode import is_grad_enabled as is_grad_enabled
from cnnkit.autograd.grad_mode import no_grad as no_grad
from cnnkit.autograd.grad_mode import set_grad_enabled as set_grad_enabled
