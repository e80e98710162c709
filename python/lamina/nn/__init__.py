"""lamina.nn: modules over lamina's ops, with torch.nn's names and behaviour.

    model = lamina.nn.Sequential(lamina.nn.Linear(64, 32), lamina.nn.ReLU(), lamina.nn.Linear(32, 10))
    opt = lamina.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)

A module and the prototxt layer of the same kind run the same C++ op (Linear and
InnerProduct, Conv2d and Convolution, LSTM and Caffe's LSTM, ...); fillers are Caffe's
(``lamina.nn.init``), with PyTorch's defaults where none is named.
"""

from . import init
from .activation import ELU, LeakyReLU, LogSoftmax, PReLU, ReLU, Sigmoid, Softmax, Softplus, Tanh
from .conv import Conv1d, Conv2d, ConvTranspose2d
from .loss import (BCELoss, BCEWithLogitsLoss, CosineEmbeddingLoss, CrossEntropyLoss, HingeEmbeddingLoss,
                   HuberLoss, KLDivLoss, L1Loss, MarginRankingLoss, MSELoss, NLLLoss, SmoothL1Loss, TripletMarginLoss)
from .linear import Dropout, Embedding, Flatten, Identity, Linear
from .module import Module, ModuleDict, ModuleList, Parameter, Sequential, load, save
from .net_module import NetModule
from .normalization import LRN, BatchNorm1d, BatchNorm2d, LocalResponseNorm
from .pooling import AdaptiveAvgPool2d, AvgPool2d, MaxPool2d
from .recurrent import GRU, LSTM, RNN

__all__ = [
    "init", "Module", "NetModule", "ModuleDict", "ModuleList", "Parameter", "Sequential", "load", "save",
    "Linear", "Identity", "Flatten", "Embedding", "Dropout",
    "Conv1d", "Conv2d", "ConvTranspose2d",
    "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d",
    "BatchNorm1d", "BatchNorm2d", "LRN", "LocalResponseNorm",
    "ReLU", "LeakyReLU", "ELU", "PReLU", "Sigmoid", "Tanh", "Softplus", "Softmax", "LogSoftmax",
    "LSTM", "GRU", "RNN",
    "CrossEntropyLoss", "NLLLoss", "BCELoss", "BCEWithLogitsLoss", "MSELoss", "L1Loss", "SmoothL1Loss", "HuberLoss",
    "HingeEmbeddingLoss", "MarginRankingLoss", "TripletMarginLoss", "CosineEmbeddingLoss", "KLDivLoss",
]
