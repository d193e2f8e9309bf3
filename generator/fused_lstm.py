"""The stacked LSTM's training pass on a CPU: every layer in one loop over time, with a
hand-written backward pass.

Keras runs each LSTM layer as a loop of its own, and its backward pass is TensorFlow's
derivative of that loop: per layer and time step a dozen small ops, and two weight-gradient
products accumulated one step at a time. Here:

- one forward loop steps all layers, layer l at step t taking layer l-1's output at step t; an
  iteration's upper layers run beside the next iteration's lower ones (`parallel_iterations`),
  so each core has a product to work on even with one thread per op (`tf_setup.op_threads`);
- the first layer's input product (with its bias) for every step is computed before the loop;
- each gate has products of its own: four per weight and step instead of one four gates wide,
  so no step splits its pre-activations into gates (a copy of every one of them), and the
  scheduler has smaller pieces to spread over the cores;
- each step's gate derivatives are one XLA-compiled kernel instead of a dozen ops;
- the backward loop carries only what must be sequential (the state derivatives and the
  derivative passed down to the layer below); the weight gradients are one matrix multiply per
  weight after the loop, over all steps at once (the first layer's kernel and bias share one).

The maths is Keras' `LSTMCell` with its defaults (gate order i, f, candidate, o; sigmoid gates,
tanh candidate and output; zero initial state), so the weights, the checkpoints and the GPU's
cuDNN path are unchanged; tests hold the values and gradients to the stock layers'.
"""

from __future__ import annotations

import functools

# Iterations of the loops that may run at once: the lower layers run ahead of the upper ones.
PARALLEL_ITERATIONS = 8


@functools.cache
def _kernels():
    """The per-step gate arithmetic (built on first use, after TensorFlow has started). The
    backward one is one XLA kernel, faster than TensorFlow's ops; the forward one stays
    TensorFlow's ops, which were faster than a kernel there (BENCHMARKS.md)."""
    import tensorflow as tf

    def forward(z, c):
        """The gates' pre-activations [i, f, candidate, o] (each (batch, units)) and the cell
        state -> (the activated gates and the new state's tanh, kept for the backward pass;
        the new state; the output)."""
        i, f, g, o = tf.sigmoid(z[0]), tf.sigmoid(z[1]), tf.tanh(z[2]), tf.sigmoid(z[3])
        c = f * c + i * g
        tanh_c = tf.tanh(c)
        return (i, f, g, o, tanh_c), c, o * tanh_c

    @tf.function(jit_compile=True)
    def backward(dh, dc_next, i, f, g, o, tanh_c, c_prev):
        """Derivatives of the output and of the next step's cell state, the activated gates, the
        cell state's tanh and the previous cell state -> (derivative of the pre-activations
        (batch, 4 units), derivative of the previous cell state)."""
        dc = dh * o * (1.0 - tanh_c * tanh_c) + dc_next
        dz = tf.concat(
            [
                dc * g * i * (1.0 - i),
                dc * c_prev * f * (1.0 - f),
                dc * i * (1.0 - g * g),
                dh * tanh_c * o * (1.0 - o),
            ],
            1,
        )
        return dz, dc * f

    return forward, backward


def stacked_lstm(x, cells, masks=None):
    """The top layer's outputs (batch, time, units) of LSTM `cells` (Keras `LSTMCell`s, all of
    one width) stacked on inputs `x` (batch, time, features), from zero states.

    `masks`: for each layer after the first, a (batch, time, units) factor its input is
    multiplied by (dropout's mask, already scaled), or None for no dropout between layers.
    Differentiable in `x`, the cells' weights and nothing else.
    """
    import tensorflow as tf

    layers, features = len(cells), int(x.shape[-1])
    value = tf.convert_to_tensor
    kernels = [value(c.kernel) for c in cells]
    recurrent = [value(c.recurrent_kernel) for c in cells]
    biases = [value(c.bias) for c in cells]
    flat_x = tf.reshape(tf.transpose(x, [1, 0, 2]), [-1, features])  # time-major rows
    masks = [] if masks is None else [tf.transpose(m, [1, 0, 2]) for m in masks]

    @tf.custom_gradient
    def run(flat_x, *weights):
        fused = _FusedPass(flat_x, weights, layers, tf.shape(x)[0], tf.shape(x)[1])
        return fused.forward(), fused.backward

    top = run(flat_x, *kernels, *recurrent, *biases, *masks)
    return tf.transpose(top, [1, 0, 2])


class _FusedPass:
    """One call's pass: the forward loop over every layer and step, and its backward pass.

    (A step's row of a time-major tensor is read as `a[t]`: TensorFlow lets a slice along the
    first axis share the tensor's memory when the row starts 64-byte aligned, as it does
    whenever batch x units is a multiple of 16; `tf.gather` always copies.)
    """

    def __init__(self, flat_x, weights, layers: int, batch, steps):
        import tensorflow as tf

        self.layers, self.batch, self.steps = layers, batch, steps
        self.kern = weights[:layers]
        self.recur = weights[layers : 2 * layers]
        bias = weights[2 * layers : 3 * layers]
        self.masks = weights[3 * layers :]
        self.mask = (None,) + self.masks  # layer n's dropout mask, for n >= 1
        self.units = int(self.recur[0].shape[0])
        self.features = int(flat_x.shape[-1])
        self.gate_forward, self.gate_backward = _kernels()

        def gates(w):  # a weight's four gate blocks, [i, f, candidate, o]
            return tf.split(w, 4, axis=-1)

        # the first layer's input product for every step, gate by gate, its bias carried in by
        # a column of ones: neither a pass of its own over the products nor an addition at
        # every step is needed
        self.ones_x = tf.concat([flat_x, tf.ones([steps * batch, 1])], 1)
        first_w = tf.concat([self.kern[0], bias[0][None]], 0)
        shape = [steps, batch, self.units]
        self.first = [tf.reshape(tf.matmul(self.ones_x, w), shape) for w in gates(first_w)]
        self.recur_g = [gates(r) for r in self.recur]
        self.kern_g = [None] + [gates(k) for k in self.kern[1:]]
        self.bias_g = [None] + [gates(b) for b in bias[1:]]
        self.zeros = tf.zeros([batch, self.units])

    def dropped(self, a, n, t=None):
        """Layer n's input `a` (at step t) times its dropout mask."""
        if not self.masks:
            return a
        return a * (self.mask[n] if t is None else self.mask[n][t])

    def arrays(self, size, initial=None, per_layer=1):
        import tensorflow as tf

        made = [
            tf.TensorArray(tf.float32, size=size, clear_after_read=False)
            for _ in range(per_layer * self.layers)
        ]
        return made if initial is None else [a.write(0, initial) for a in made]

    def forward(self):
        """The top layer's outputs (steps, batch, units); keeps what the backward pass needs."""
        import tensorflow as tf

        zeros, steps = self.zeros, self.steps
        start = (0, [zeros] * self.layers, [zeros] * self.layers, self.arrays(steps, per_layer=5))
        _, _, _, self.acts, self.cells_at, outs = tf.while_loop(
            lambda t, *_: t < steps,
            self._forward_step,
            start + (self.arrays(steps + 1, zeros), self.arrays(steps + 1, zeros)),
            parallel_iterations=PARALLEL_ITERATIONS,
        )
        self.outs = [o.stack() for o in outs]  # (steps + 1, batch, units), [0] the zero state
        return self.outs[-1][1:]

    def _forward_step(self, t, hs, cs, acts, cells_at, outs):
        import tensorflow as tf

        hs, cs, acts, cells_at, outs = map(list, (hs, cs, acts, cells_at, outs))
        below = None
        for n in range(self.layers):
            recur = self.recur_g[n]
            if n == 0:
                z = [self.first[k][t] + tf.matmul(hs[0], recur[k]) for k in range(4)]
            else:
                below = self.dropped(below, n, t)
                # two additions: `tf.add_n` of the three measured slower (BENCHMARKS.md)
                z = [
                    tf.matmul(below, self.kern_g[n][k])
                    + (tf.matmul(hs[n], recur[k]) + self.bias_g[n][k])
                    for k in range(4)
                ]
            a, cs[n], hs[n] = self.gate_forward(z, cs[n])
            for k in range(5):
                acts[5 * n + k] = acts[5 * n + k].write(t, a[k])
            cells_at[n] = cells_at[n].write(t + 1, cs[n])  # [0] is the zero state
            outs[n] = outs[n].write(t + 1, hs[n])
            below = hs[n]
        return t + 1, hs, cs, acts, cells_at, outs

    def backward(self, d_top):
        """The derivatives of the inputs and weights from those of the top outputs."""
        import tensorflow as tf

        # the weights transposed once: a product with a transposed operand is slower
        self.recur_t = [tf.transpose(r) for r in self.recur]
        self.kern_t = [tf.transpose(k) for k in self.kern]
        self.d_top, zeros = d_top, self.zeros
        _, _, _, dzs = tf.while_loop(
            lambda t, *_: t >= 0,
            self._backward_step,
            (self.steps - 1, [zeros] * self.layers, [zeros] * self.layers, self.arrays(self.steps)),
            parallel_iterations=PARALLEL_ITERATIONS,
        )
        # (steps x batch, 4 units): every step's derivatives of the pre-activations
        return self._gradients([tf.reshape(d.stack(), [-1, 4 * self.units]) for d in dzs])

    def _backward_step(self, t, dh_next, dc_next, dzs):
        import tensorflow as tf

        dh_next, dc_next, dzs = map(list, (dh_next, dc_next, dzs))
        d_out = self.d_top[t]
        for n in reversed(range(self.layers)):
            acts = [self.acts[5 * n + k].read(t) for k in range(5)]
            dz, dc_next[n] = self.gate_backward(
                d_out + dh_next[n], dc_next[n], *acts, self.cells_at[n].read(t)
            )
            dh_next[n] = tf.matmul(dz, self.recur_t[n])
            dzs[n] = dzs[n].write(t, dz)
            if n:
                d_out = self.dropped(tf.matmul(dz, self.kern_t[n]), n, t)
        return t - 1, dh_next, dc_next, dzs

    def _gradients(self, dzs):
        """Each weight's gradient as one product over every step, from the pre-activations'
        derivatives `dzs` (per layer, (steps x batch, 4 units))."""
        import tensorflow as tf

        layers, outs, units = self.layers, self.outs, self.units

        def product(a, dz, width=units):  # sum over every step and sequence of a^T dz
            return tf.matmul(tf.reshape(a, [-1, width]), dz, transpose_a=True)

        d_recur = [product(outs[n][:-1], dzs[n]) for n in range(layers)]
        d_kern = [product(self.dropped(outs[n - 1][1:], n), dzs[n]) for n in range(1, layers)]
        d_first = product(self.ones_x, dzs[0], self.features + 1)  # first kernel's and bias' rows
        # summed by a product with ones: faster here than reduce_sum down the rows
        ones = tf.ones([1, self.steps * self.batch])
        d_bias = [tf.reshape(tf.matmul(ones, dzs[n]), [-1]) for n in range(1, layers)]
        d_x = tf.matmul(dzs[0], self.kern_t[0])
        d_masks = [None] * len(self.masks)
        return [d_x, d_first[:-1], *d_kern, *d_recur, d_first[-1], *d_bias, *d_masks]
