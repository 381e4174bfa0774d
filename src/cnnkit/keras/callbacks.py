"""``keras.callbacks``: the Keras-named training callbacks (see :mod:`cnnkit.training.callbacks`)."""

from cnnkit.training.callbacks import BackupAndRestore as BackupAndRestore
from cnnkit.training.callbacks import Callback as Callback
from cnnkit.training.callbacks import CallbackList as CallbackList
from cnnkit.training.callbacks import CSVLogger as CSVLogger
from cnnkit.training.callbacks import EarlyStopping as EarlyStopping
from cnnkit.training.callbacks import History as History
from cnnkit.training.callbacks import LearningRateScheduler as LearningRateScheduler
from cnnkit.training.callbacks import ModelCheckpoint as ModelCheckpoint
from cnnkit.training.callbacks import ProgressBar as ProgressBar
from cnnkit.training.callbacks import SchedulerCallback as SchedulerCallback
from cnnkit.training.callbacks import TerminateOnNaN as TerminateOnNaN
