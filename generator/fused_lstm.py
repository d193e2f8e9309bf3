"""The stacked LSTM's training pass on a CPU: every layer in one loop over time, with a
hand-written backward pass.

Keras runs each LSTM layer as a loop of its own, and its backward pass is TensorFlow's
derivative of that loop: per layer and time step a dozen small ops, and two weight-gradient
products accumulated one step at a time. Here:

- one forward loop steps all layers, layer l at step t taking layer l-1's output at step t; an
  iteration's upper layers run beside the next iteration's lower ones (`parallel_iterations`),
  so each core has a product to work on even with one thread per op (`tf_setup.op_threads`);
- the first layer's input product for every step is one matrix multiply before the loop;
- each step's gate derivatives are one XLA-compiled kernel instead of a dozen ops;
- the backward loop carries only what must be sequential (the state derivatives and the
  derivative passed down to the layer below); the weight gradients are one matrix multiply per
  weight after the loop, over all steps at once.

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
    backward one is compiled by XLA into one kernel: 60 against 139 us a step at batch 64 x 256
    units on one core. The forward one stays TensorFlow's ops, whose sigmoid is faster than
    XLA's (88 against 101 us)."""
    import tensorflow as tf

    def forward(z, c):
        """Pre-activations z (batch, 4 units) and cell state -> (gates, new state, output)."""
        i, f, g, o = tf.split(z, 4, axis=1)
        i, f, g, o = tf.sigmoid(i), tf.sigmoid(f), tf.tanh(g), tf.sigmoid(o)
        c = f * c + i * g
        return tf.concat([i, f, g, o], 1), c, o * tf.tanh(c)

    @tf.function(jit_compile=True)
    def backward(dh, dc_next, gates, c, c_prev):
        """Derivatives of the output and of the next step's cell state -> (derivative of the
        pre-activations, derivative of the previous cell state)."""
        i, f, g, o = tf.split(gates, 4, axis=1)
        tanh_c = tf.tanh(c)
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

    forward, backward = _kernels()
    layers, units = len(cells), int(cells[0].units)
    batch, steps = tf.shape(x)[0], tf.shape(x)[1]
    value = tf.convert_to_tensor
    kernels = [value(c.kernel) for c in cells]
    recurrent = [value(c.recurrent_kernel) for c in cells]
    biases = [value(c.bias) for c in cells]
    # time-major; the first layer's input product for every step at once
    flat_x = tf.reshape(tf.transpose(x, [1, 0, 2]), [-1, x.shape[-1]])
    # (the bias is added at each step, in the same op as the recurrent product's sum: a pass
    # of its own over every step's products costs more than all those additions)
    first_in = tf.reshape(tf.matmul(flat_x, kernels[0]), [steps, batch, 4 * units])
    masks = [] if masks is None else [tf.transpose(m, [1, 0, 2]) for m in masks]

    @tf.custom_gradient
    def run(first_in, *weights):
        recur = weights[:layers]
        kern = (None,) + weights[layers : 2 * layers - 1]
        bias = weights[2 * layers - 1 : 3 * layers - 1]
        mask = (None,) + weights[3 * layers - 1 :]

        def dropped(a, n, t=None):  # layer n's input `a` (at step t) times its dropout mask
            if not masks:
                return a
            return a * (mask[n] if t is None else tf.gather(mask[n], t))

        zeros = tf.zeros([batch, units])

        def arrays(size, first=None):
            made = [tf.TensorArray(tf.float32, size=size, clear_after_read=False) for _ in cells]
            return made if first is None else [a.write(0, first) for a in made]

        def forward_step(t, hs, cs, gates, cells_at, outs):
            hs, cs, gates, cells_at, outs = map(list, (hs, cs, gates, cells_at, outs))
            below = None
            for n in range(layers):
                z = tf.matmul(hs[n], recur[n]) + bias[n]
                if n == 0:
                    z = tf.gather(first_in, t) + z
                else:
                    z = tf.matmul(dropped(below, n, t), kern[n]) + z
                g, cs[n], hs[n] = forward(z, cs[n])
                gates[n] = gates[n].write(t, g)
                cells_at[n] = cells_at[n].write(t + 1, cs[n])  # [0] is the zero state
                outs[n] = outs[n].write(t + 1, hs[n])
                below = hs[n]
            return t + 1, hs, cs, gates, cells_at, outs

        start = (0, [zeros] * layers, [zeros] * layers, arrays(steps))
        _, _, _, gates, cells_at, outs = tf.while_loop(
            lambda t, *_: t < steps,
            forward_step,
            start + (arrays(steps + 1, zeros), arrays(steps + 1, zeros)),
            parallel_iterations=PARALLEL_ITERATIONS,
        )
        outs = [o.stack() for o in outs]  # (steps + 1, batch, units), [0] the zero state

        def grad(d_top):
            def backward_step(t, dh_next, dc_next, dzs):
                dh_next, dc_next, dzs = map(list, (dh_next, dc_next, dzs))
                d_out = tf.gather(d_top, t)
                for n in reversed(range(layers)):
                    dz, dc_next[n] = backward(
                        d_out + dh_next[n],
                        dc_next[n],
                        gates[n].read(t),
                        cells_at[n].read(t + 1),
                        cells_at[n].read(t),
                    )
                    dh_next[n] = tf.matmul(dz, recur[n], transpose_b=True)
                    dzs[n] = dzs[n].write(t, dz)
                    if n:
                        d_out = dropped(tf.matmul(dz, kern[n], transpose_b=True), n, t)
                return t - 1, dh_next, dc_next, dzs

            _, _, _, dzs = tf.while_loop(
                lambda t, *_: t >= 0,
                backward_step,
                (steps - 1, [zeros] * layers, [zeros] * layers, arrays(steps)),
                parallel_iterations=PARALLEL_ITERATIONS,
            )
            dzs = [d.stack() for d in dzs]  # (steps, batch, 4 units)

            def rows(a, width=units):
                return tf.reshape(a, [-1, width])

            def product(a, dz):  # sum over every step and sequence of a^T dz
                return tf.matmul(rows(a), rows(dz, 4 * units), transpose_a=True)

            d_recur = [product(outs[n][:-1], dzs[n]) for n in range(layers)]
            d_kern = [product(dropped(outs[n - 1][1:], n), dzs[n]) for n in range(1, layers)]
            # summed by a product with ones: 5x faster here than reduce_sum down the rows
            ones = tf.ones([1, steps * batch])
            d_bias = [
                tf.reshape(tf.matmul(ones, rows(dzs[n], 4 * units)), [-1]) for n in range(layers)
            ]
            return [dzs[0], *d_recur, *d_kern, *d_bias] + [None] * len(masks)

        return outs[-1][1:], grad

    top = run(first_in, *recurrent, *kernels[1:], *biases, *masks)
    return tf.transpose(top, [1, 0, 2])
