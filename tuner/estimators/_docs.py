"""The numpydoc sections shared by :class:`MLPClassifier` and :class:`MLPRegressor`.

One entry per parameter, in ``__init__`` order, in scikit-learn's words where
the parameter is scikit-learn's, followed by what differs in tuner. The class
docstrings insert :data:`PARAMETERS` and :data:`ATTRIBUTES` with ``str.format``.
"""

PARAMETERS = """
    Parameters
    ----------
    hidden_layer_sizes : array-like of shape (n_layers - 2,), default=(100,)
        The ith element represents the number of neurons in the ith
        hidden layer.

    activation : {"identity", "logistic", "tanh", "relu"}, default="relu"
        Activation function for the hidden layer.

        - "identity", no-op activation, useful to implement linear bottleneck,
          returns f(x) = x
        - "logistic", the logistic sigmoid function,
          returns f(x) = 1 / (1 + exp(-x)).
        - "tanh", the hyperbolic tan function, returns f(x) = tanh(x).
        - "relu", the rectified linear unit function, returns f(x) = max(0, x)

    solver : {"sgd", "rmsprop", "adam"}, default="adam"
        The solver for weight optimization.

        - "sgd" refers to stochastic gradient descent (with ``momentum`` and
          ``nesterovs_momentum``).
        - "rmsprop" divides the gradient by a running root mean square of recent
          gradients (``rho``, ``epsilon``). Not in scikit-learn.
        - "adam" refers to a stochastic gradient-based optimizer proposed by
          Kingma, Diederik, and Jimmy Ba (``beta_1``, ``beta_2``, ``epsilon``).

        The update rules are written in :mod:`tuner.nn.optimizers`. Unlike
        scikit-learn, there is no "lbfgs": ``batch_size="full"`` gives
        deterministic full-batch gradient steps instead.

    alpha : float, default=0.0001
        Strength of the L2 regularization term. The L2 regularization term
        is divided by the sample size when added to the loss. In tuner the
        sample size is the number of training rows ``n`` for every minibatch,
        so that each minibatch estimates ``mean loss + alpha / (2n) ||W||**2``
        without bias; scikit-learn divides by the minibatch size, which makes
        the penalty ``n / batch_size`` times stronger with small batches.

    batch_size : int, "auto" or "full", default="auto"
        Size of minibatches for the stochastic optimizers. When set to "auto",
        ``batch_size=min(200, n_samples)``; "full" (not in scikit-learn) is
        ``n_samples`` (batch gradient descent). An int is clipped to
        ``[1, n_samples]``.

    learning_rate : {"constant", "invscaling", "step", "cosine"}, default="constant"
        Learning rate schedule for weight updates, applied per epoch with every
        solver (scikit-learn: only with "sgd"); formulas in
        :mod:`tuner.nn.schedules`.

        - "constant" is a constant learning rate given by ``learning_rate_init``.
        - "invscaling" gradually decreases the learning rate:
          ``learning_rate_init / (k + 1) ** power_t`` at epoch ``k`` (scikit-learn
          counts samples seen instead of epochs).
        - "step" multiplies it by ``lr_gamma`` every ``lr_step_size`` epochs.
        - "cosine" anneals it to almost zero over the ``max_iter`` epochs of ``fit``.

        All of them start with ``warmup_epochs`` epochs of linear warmup.
        scikit-learn's "adaptive" is not available.

    learning_rate_init : float, default=0.001
        The initial learning rate used. It controls the step-size in updating
        the weights.

    power_t : float, default=0.5
        The exponent for inverse scaling learning rate. It is used in updating
        effective learning rate when the learning_rate is set to "invscaling",
        with any solver.

    max_iter : int, default=200
        Maximum number of iterations. The solver iterates until convergence
        (determined by ``tol``) or this number of iterations. This determines
        the number of epochs (how many times each data point will be used), not
        the number of gradient steps. ``partial_fit`` runs one epoch whatever
        ``max_iter`` is; the "cosine" schedule anneals over ``max_iter`` epochs.

    shuffle : bool, default=True
        Whether to shuffle samples in each iteration.

    random_state : int, RandomState instance, default=None
        Determines random number generation for weights and bias
        initialization, train-test split if early stopping is used, batch
        sampling and dropout masks. Pass an int for reproducible results across
        multiple function calls. Every ``fit`` starts a fresh generator seeded
        from it, so refits are identical.

    tol : float, default=1e-4
        Tolerance for the optimization. When the loss or score is not improving
        by at least ``tol`` for ``n_iter_no_change`` consecutive iterations,
        convergence is considered to be reached and training stops.

    verbose : bool, default=False
        Whether to print progress messages to stdout (one line per epoch, with
        the learning rate).

    warm_start : bool, default=False
        When set to True, reuse the solution of the previous call to fit as
        initialization, otherwise, just erase the previous solution. The
        solution is the current ``coefs_`` and ``intercepts_``, so weights set by
        the user are trained on.

    momentum : float, default=0.9
        Momentum for gradient descent update. Should be between 0 and 1. Only
        used when solver="sgd".

    nesterovs_momentum : bool, default=True
        Whether to use Nesterov's momentum. Only used when solver="sgd" and
        momentum > 0.

    early_stopping : bool, default=False
        Whether to use early stopping to terminate training when validation
        score is not improving. If set to True, it will automatically set
        aside ``validation_fraction`` of training data as validation and
        terminate training when validation score is not improving by at least
        ``tol`` for ``n_iter_no_change`` consecutive epochs; the weights of the
        best validation score are restored. The split is stratified, except in
        a multilabel setting. If early stopping is False, then the training
        stops when the training loss does not improve by more than ``tol`` for
        ``n_iter_no_change`` consecutive passes over the training set.

    validation_fraction : float, default=0.1
        The proportion of training data to set aside as validation set for
        early stopping. Must be between 0 and 1. Only used if early_stopping
        is True.

    beta_1 : float, default=0.9
        Exponential decay rate for estimates of first moment vector in adam,
        should be in [0, 1). Only used when solver="adam".

    beta_2 : float, default=0.999
        Exponential decay rate for estimates of second moment vector in adam,
        should be in [0, 1). Only used when solver="adam".

    epsilon : float, default=1e-8
        Value for numerical stability in adam (and, in tuner, rmsprop). Only
        used when solver="adam" or "rmsprop".

    n_iter_no_change : int, default=10
        Maximum number of epochs to not meet ``tol`` improvement.

    dropout : float, default=0.0
        Inverted-dropout rate of the hidden layers: at training time each
        hidden unit is zeroed with this probability and the survivors are
        scaled by ``1 / (1 - dropout)``; prediction uses the plain network.
        Not in scikit-learn.

    rho : float, default=0.9
        Decay of the running mean of squared gradients of rmsprop. Only used
        when solver="rmsprop". Not in scikit-learn.

    lr_step_size : int, default=10
        Epochs between two decays of the "step" schedule. Not in scikit-learn.

    lr_gamma : float, default=0.5
        Factor of each decay of the "step" schedule. Not in scikit-learn.

    warmup_epochs : int, default=0
        Epochs of linear warmup before any schedule:
        ``learning_rate_init * (e + 1) / (warmup_epochs + 1)`` at epoch ``e``.
        Not in scikit-learn.

    init : {"auto", "he", "glorot"}, default="auto"
        Uniform initialisation of the hidden layers' weights: "he",
        ``U(+-sqrt(6 / fan_in))``; "glorot", ``U(+-sqrt(6 / (fan_in + fan_out)))``;
        "auto" is He before relu and Glorot otherwise. The output layer always
        gets Glorot and biases start at zero. scikit-learn uses Glorot's bound
        everywhere (``sqrt(2 / (fan_in + fan_out))`` with logistic units) and
        draws the biases from the same interval. Not in scikit-learn.

    dtype : {None, "float32", "float64"}, default=None
        Working precision of weights and training. None keeps float32 input as
        float32 and casts anything else to float64 (as scikit-learn does).
        Not in scikit-learn.

    n_threads : int or None, default=1
        BLAS threads during fit and predict (None leaves the process setting
        unchanged). Not in scikit-learn.
"""

ATTRIBUTES = """
    Attributes
    ----------
    loss_ : float
        The current loss computed with the loss function: the mean over the
        last epoch's minibatches of their losses, the L2 term included.

    best_loss_ : float or None
        The minimum loss reached by the solver throughout fitting.
        If ``early_stopping=True``, this attribute is set to None. Refer to
        the ``best_validation_score_`` fitted attribute instead.

    loss_curve_ : list of shape (`n_iter_`,)
        The ith element in the list represents the loss at the ith iteration.

    validation_scores_ : list of shape (`n_iter_`,) or None
        The score at each iteration on a held-out validation set (accuracy for
        the classifier, R^2 for the regressor). Only available if
        ``early_stopping=True``, otherwise the attribute is set to None.

    best_validation_score_ : float or None
        The best validation score that triggered the early stopping. Only
        available if ``early_stopping=True``, otherwise the attribute is set to
        None.

    t_ : int
        The number of training samples seen by the solver during fitting.

    n_updates_ : int
        Weight updates so far: the sum over epochs of ``ceil(n / batch_size)``.
        Not in scikit-learn.

    coefs_ : list of shape (n_layers - 1,)
        The ith element in the list represents the weight matrix corresponding
        to layer i.

    intercepts_ : list of shape (n_layers - 1,)
        The ith element in the list represents the bias vector corresponding to
        layer i + 1.

    n_features_in_ : int
        Number of features seen during :term:`fit`.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :term:`fit`. Defined only when `X`
        has feature names that are all strings.

    n_iter_ : int
        The number of iterations (epochs) the solver has run: those of the last
        ``fit``, then one more per ``partial_fit``.

    n_layers_ : int
        Number of layers.

    n_outputs_ : int
        Number of outputs.

    out_activation_ : str
        Name of the output activation function.
"""
