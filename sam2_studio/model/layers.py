"""Small building blocks shared by the image, prompt and memory modules."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class MLP(nn.Module):
    """A stack of linear layers with an activation between them (``layers.N`` in checkpoints)."""

    def __init__(
        self,
        in_dim: int,
        hidden_dim: int,
        out_dim: int,
        num_layers: int,
        activation: type[nn.Module] = nn.ReLU,
        sigmoid_output: bool = False,
    ) -> None:
        super().__init__()
        dims = [in_dim] + [hidden_dim] * (num_layers - 1) + [out_dim]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:]))
        self.act = activation()
        self.sigmoid_output = sigmoid_output

        # Without autograd the activation may overwrite its input: one large allocation less.
        self._inplace_act = {nn.ReLU: torch.relu_, nn.GELU: torch.ops.aten.gelu_}.get(activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        last = len(self.layers) - 1
        inplace = self._inplace_act is not None and not torch.is_grad_enabled()
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < last:
                x = self._inplace_act(x) if inplace else self.act(x)
        return torch.sigmoid(x) if self.sigmoid_output else x


class LayerNorm2d(nn.Module):
    """Layer norm over the channels of an NCHW map, at every pixel."""

    def __init__(self, channels: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(1, keepdim=True)
        var = (x - mean).pow(2).mean(1, keepdim=True)
        x = (x - mean) / torch.sqrt(var + self.eps)
        return self.weight[:, None, None] * x + self.bias[:, None, None]


def layer_norm_channels_last(x: torch.Tensor, norm: LayerNorm2d) -> torch.Tensor:
    """The same normalisation on an NHWC tensor, through the fused kernel."""
    return F.layer_norm(x, (x.shape[-1],), norm.weight, norm.bias, norm.eps)
