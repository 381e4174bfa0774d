"""Optimizers and learning-rate schedules with ``torch.optim``'s names, arguments and semantics."""

from cnnkit.optim import lr_scheduler as lr_scheduler
from cnnkit.optim.adam import Adam as Adam
from cnnkit.optim.adam import AdamW as AdamW
from cnnkit.optim.optimizer import Optimizer as Optimizer
from cnnkit.optim.rmsprop import Adagrad as Adagrad
from cnnkit.optim.rmsprop import RMSprop as RMSprop
from cnnkit.optim.sgd import SGD as SGD
