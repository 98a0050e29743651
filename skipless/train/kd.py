"""Knowledge-distillation losses (the teacher's logits are given, the teacher is frozen).

* Hinton et al.: ``alpha * T^2 * KL(softmax(t/T) || softmax(s/T)) + (1 - alpha) * CE(y, s)``
* Tailor: ``0.35 * MSE(t, s) + 0.65 * CE(y, s)`` on the raw logits (MSE averaged over all logits, as
  PyTorch's ``MSELoss``).
"""

from __future__ import annotations

from skipless.errors import SkiplessError

KD_LOSSES = ("hinton", "tailor")


def cross_entropy(labels, logits):
    import tensorflow as tf

    return tf.reduce_mean(tf.keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True))


def hinton_loss(labels, student_logits, teacher_logits, temperature: float = 4.0, alpha: float = 0.9):
    import tensorflow as tf

    t = float(temperature)
    p_teacher = tf.nn.softmax(teacher_logits / t)
    log_p_teacher = tf.nn.log_softmax(teacher_logits / t)
    log_p_student = tf.nn.log_softmax(student_logits / t)
    kl = tf.reduce_mean(tf.reduce_sum(p_teacher * (log_p_teacher - log_p_student), axis=-1))
    return alpha * t * t * kl + (1.0 - alpha) * cross_entropy(labels, student_logits)


def tailor_loss(labels, student_logits, teacher_logits):
    import tensorflow as tf

    mse = tf.reduce_mean(tf.square(teacher_logits - student_logits))
    return 0.35 * mse + 0.65 * cross_entropy(labels, student_logits)


def make_loss(kind: str | None, temperature: float = 4.0, alpha: float = 0.9):
    """``loss(labels, student_logits, teacher_logits)``; ``kind=None`` is plain cross-entropy."""
    if kind is None:
        return lambda y, s, t: cross_entropy(y, s)
    if kind == "hinton":
        if temperature <= 0 or not 0 <= alpha <= 1:
            raise SkiplessError(f"Hinton KD needs T > 0 and 0 <= alpha <= 1, got T={temperature}, alpha={alpha}")
        return lambda y, s, t: hinton_loss(y, s, t, temperature, alpha)
    if kind == "tailor":
        return tailor_loss
    raise SkiplessError(f"unknown KD loss {kind!r}: use one of {', '.join(KD_LOSSES)}")
