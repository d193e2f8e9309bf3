"""A faster LSTM for the CPU, with exactly the weights and results of `keras.layers.LSTM`.

Keras' LSTM on the CPU runs a generic loop that spends most of its time on small element-wise
operations: each time step launches a dozen of them forward and twice as many backward. This
layer is `keras.layers.LSTM` with one method replaced: when the sequence length is known and no
GPU is visible, the whole sequence runs through `fused_lstm`, which

- projects the inputs of all time steps in one matrix multiply (Keras does one per step),
- computes all four gates with a single sigmoid (tanh(x) = 2 sigmoid(2x) - 1),
- has a hand-written backward pass that does the element-wise work that does not depend on the
  recurrence once for the whole sequence, leaves five operations per step, and computes the
  weight gradients as one matrix multiply each after the loop.

Everywhere else (a GPU, where Keras picks cuDNN; masks; dropout inside the layer; an unknown
sequence length) it is Keras' own code. Weights, their order and names, and saved files are
those of `keras.layers.LSTM`, so checkpoints move freely between the two.
"""

from __future__ import annotations

import keras


def fused_lstm(x, h0, c0, kernel, recurrent_kernel, bias):
    """Outputs (batch, time, units), and the final h and c, of an LSTM with Keras' gate layout
    (i, f, c, o), tanh and sigmoid. `x` (batch, time, features) must have a static length."""
    import tensorflow as tf

    units = recurrent_kernel.shape[0]
    steps = x.shape[1]
    # the candidate gate's pre-activations are doubled so one sigmoid serves all four gates
    scale = tf.concat([tf.ones(2 * units), tf.fill([units], 2.0), tf.ones(units)], 0)
    xw = tf.einsum("bti,ij->tbj", x, kernel * scale) + bias * scale  # (time, batch, 4 units)

    @tf.custom_gradient
    def run(xw, u, h0, c0):
        inputs = tf.unstack(xw, num=steps)
        h, c = h0, c0
        hs, cs, gates = [], [], []
        for t in range(steps):
            s = tf.sigmoid(inputs[t] + tf.matmul(h, u))
            i, f, g, o = tf.split(s, 4, axis=1)
            c = f * c + i * (2.0 * g - 1.0)
            h = o * tf.tanh(c)
            hs.append(h)
            cs.append(c)
            gates.append(s)
        outputs = tf.stack(hs)  # (time, batch, units)

        def grad(d_outputs, d_h, d_c):
            s_all, c_all = tf.stack(gates), tf.stack(cs)
            c_prev = tf.concat([c0[None], c_all[:-1]], 0)
            i, f, g, o = tf.split(s_all, 4, axis=2)
            g = 2.0 * g - 1.0
            tanh_c = tf.tanh(c_all)
            # per step: dc = dh * dc_dh + dc_next;  dz = [dc, dc, dc, dh] * dz_d
            dc_dh = tf.unstack(o * (1.0 - tanh_c * tanh_c), num=steps)
            dz_d = tf.concat(
                [
                    g * i * (1.0 - i),
                    c_prev * f * (1.0 - f),
                    0.5 * i * (1.0 - g * g),  # through g = 2 sigmoid(2x) - 1
                    tanh_c * o * (1.0 - o),
                ],
                2,
            )
            dz_d = tf.unstack(dz_d, num=steps)
            forget = tf.unstack(f, num=steps)
            d_hs = tf.unstack(d_outputs, num=steps)
            dh_next = tf.zeros_like(h0) if d_h is None else d_h
            dc_next = tf.zeros_like(c0) if d_c is None else d_c
            dzs = [None] * steps
            for t in reversed(range(steps)):
                dh = d_hs[t] + dh_next
                dc = dh * dc_dh[t] + dc_next
                dzs[t] = tf.concat([dc, dc, dc, dh], 1) * dz_d[t]
                dh_next = tf.matmul(dzs[t], u, transpose_b=True)
                dc_next = dc * forget[t]
            dz = tf.stack(dzs)  # (time, batch, 4 units), gradient of the pre-activations
            h_prev = tf.concat([h0[None], outputs[:-1]], 0)
            du = tf.matmul(
                tf.reshape(h_prev, [-1, units]), tf.reshape(dz, [-1, 4 * units]), transpose_a=True
            )
            return dz, du, dh_next, dc_next

        return (outputs, h, c), grad

    outputs, h, c = run(xw, recurrent_kernel * scale, h0, c0)
    return tf.transpose(outputs, [1, 0, 2]), h, c


@keras.saving.register_keras_serializable(package="gen")
class LSTM(keras.layers.LSTM):
    """`keras.layers.LSTM` that runs `fused_lstm` on the CPU (same weights, same results)."""

    def _fused_ok(self, sequences, mask, training) -> bool:
        import tensorflow as tf

        return (
            sequences.shape[1] is not None
            and sequences.dtype == "float32"
            and mask is None
            and not self.go_backwards
            and not (training and (self.dropout or self.recurrent_dropout))
            and self.cell.use_bias
            and self.cell.activation is keras.activations.tanh
            and self.cell.recurrent_activation is keras.activations.sigmoid
            and not tf.config.list_logical_devices("GPU")  # there Keras uses cuDNN
        )

    def inner_loop(self, sequences, initial_state, mask, training=False):
        if not self._fused_ok(sequences, mask, training):
            return super().inner_loop(sequences, initial_state, mask, training=training)
        cell = self.cell
        outputs, h, c = fused_lstm(
            sequences, *initial_state, cell.kernel, cell.recurrent_kernel, cell.bias
        )
        return h, outputs, [h, c]
