//! The built-in allow-list and deny-list of pickle globals, and the judge that applies them.
//!
//! Order of judgement for a dotted global `module.name` (after folding module aliases such as
//! `posix`/`nt` -> `os`, `__builtin__` -> `builtins`, `_pickle`/`cPickle` -> `pickle`,
//! `numpy._core` -> `numpy.core`): an exact allow entry; then the deny-list, matched against the
//! global and against every attribute-chain suffix of it that starts at a well-known dangerous
//! module (so `torch.serialization.os.system` is `os.system`); then module-prefix allow entries;
//! anything else is unknown.

use crate::Severity;

/// What the lists say about one global.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// On the allow-list.
    Safe,
    /// On the deny-list, with a reason.
    Deny(Severity, &'static str),
    /// On neither list.
    Unknown,
}

const C: Severity = Severity::Critical;
const H: Severity = Severity::High;

/// Deny entries: `a.b` exact, `a.*` the module and everything in it, `a.b*` a string prefix.
const DENY: &[(&str, Severity, &str)] = &[
    (
        "lib2to3.pgen2.pgen.*",
        C,
        "evaluates grammar labels with eval()",
    ),
    (
        "operator.itemgetter",
        H,
        "reaches items of any container (sys.modules, __dict__)",
    ),
    ("logging.FileHandler", H, "writes files"),
    (
        "logging.handlers.*",
        H,
        "writes files and opens network connections",
    ),
    (
        "torch.utils._config_module.*",
        H,
        "loads pickled configuration (nested unpickler)",
    ),
    ("test.*", H, "CPython's test package: helpers that run code"),
    (
        "torch.utils.bottleneck.*",
        C,
        "profiles code given as a string",
    ),
    (
        "torch.jit.unsupported_tensor_ops.*",
        C,
        "exec()s source code",
    ),
    (
        "torch.fx.experimental.symbolic_shapes.*",
        C,
        "evaluates guard expressions",
    ),
    ("torch._dynamo.*", C, "compiles and evaluates guard code"),
    (
        "torch.utils.data.datapipes.utils.decoder.*",
        H,
        "decoders that unpickle data",
    ),
    ("_aix_support.*", C, "runs shell commands"),
    (
        "mailcap.*",
        C,
        "runs mailcap test commands through os.system",
    ),
    ("argparse.FileType", H, "opens files"),
    ("aifc.open", H, "opens files"),
    ("bz2.open", H, "opens files"),
    ("gzip.open", H, "opens files"),
    ("lzma.open", H, "opens files"),
    (
        "_pyrepl.*",
        C,
        "pagers and consoles that run commands and code",
    ),
    ("imaplib.IMAP4_stream", C, "runs a command"),
    ("cmd.*", H, "dispatches command strings to methods"),
    (
        "test.support.*",
        C,
        "test helpers that run Python scripts and commands",
    ),
    ("pipes.*", C, "runs shell pipelines"),
    ("_winapi.*", C, "creates processes"),
    ("unittest.mock.*", H, "imports any module by name"),
    ("unittest.*", H, "test runner that imports and runs modules"),
    ("_sitebuiltins.*", H, "starts a pager"),
    ("smtpd.*", H, "network server"),
    ("winreg.*", H, "writes the registry"),
    ("functools.partial", H, "calls whatever callable it wraps"),
    ("functools.reduce", H, "calls whatever callable it is given"),
    ("torch._inductor.*", C, "compiles and loads generated code"),
    ("torch.utils.collect_env.*", C, "runs commands"),
    ("torch.testing.*", H, "test helpers that run code"),
    ("torch.compiler.*", H, "compiler internals"),
    ("sklearn.utils._joblib.*", H, "nested unpickler"),
    ("scipy.sparse.save_npz", H, "writes files"),
    ("scipy.sparse._matrix_io.*", H, "reads and writes files"),
    // --- code execution (CRITICAL)
    ("os.system", C, "runs a shell command"),
    ("os.popen*", C, "runs a shell command"),
    ("os.exec*", C, "replaces the process with another program"),
    ("os.spawn*", C, "starts a program"),
    ("os.posix_spawn*", C, "starts a program"),
    ("os.fork*", C, "forks the process"),
    (
        "os.startfile",
        C,
        "opens a file with its associated program",
    ),
    ("subprocess.*", C, "starts programs"),
    ("_posixsubprocess.*", C, "starts programs"),
    ("commands.*", C, "runs shell commands (Python 2)"),
    ("popen2.*", C, "runs shell commands (Python 2)"),
    ("pty.*", C, "spawns programs on a pseudo-terminal"),
    ("runpy.*", C, "runs Python modules or files"),
    ("code.*", C, "runs Python source (interactive interpreter)"),
    ("codeop.*", C, "compiles Python source"),
    ("timeit.*", C, "executes Python statements given as strings"),
    (
        "cProfile.*",
        C,
        "executes Python statements given as strings",
    ),
    (
        "profile.*",
        C,
        "executes Python statements given as strings",
    ),
    ("_lsprof.*", C, "profiler that executes code"),
    ("pdb.*", C, "debugger that executes Python statements"),
    ("bdb.*", C, "debugger that executes Python statements"),
    ("trace.*", C, "executes Python statements given as strings"),
    ("doctest.*", C, "executes Python source from docstrings"),
    ("idlelib.*", C, "IDLE internals that evaluate and run code"),
    (
        "ctypes.*",
        C,
        "loads native libraries and calls arbitrary functions",
    ),
    (
        "_ctypes.*",
        C,
        "loads native libraries and calls arbitrary functions",
    ),
    (
        "cffi.*",
        C,
        "loads native libraries and calls arbitrary functions",
    ),
    ("numpy.ctypeslib.*", C, "loads native libraries"),
    (
        "pydoc.*",
        C,
        "pagers run shell commands; locate imports anything",
    ),
    ("pexpect.*", C, "spawns programs"),
    ("ptyprocess.*", C, "spawns programs"),
    ("sh.*", C, "runs shell commands"),
    ("plumbum.*", C, "runs shell commands"),
    ("fabric.*", C, "runs shell commands"),
    ("invoke.*", C, "runs shell commands"),
    ("IPython.*", C, "runs Python and shell code"),
    ("ensurepip.*", C, "runs pip"),
    ("distutils.*", C, "spawns compilers and commands"),
    ("setuptools.*", C, "runs setup scripts and commands"),
    ("numpy.distutils.*", C, "runs commands"),
    ("numpy.f2py.*", C, "compiles and imports code"),
    ("_osx_support.*", C, "runs shell commands"),
    (
        "logging.config.*",
        C,
        "configuration that instantiates arbitrary callables or listens for code",
    ),
    ("multiprocessing.popen*", C, "starts processes"),
    ("asyncio.subprocess.*", C, "starts programs"),
    ("asyncio.create_subprocess*", C, "starts programs"),
    (
        "asyncio.base_events.BaseEventLoop.subprocess*",
        C,
        "starts programs",
    ),
    ("platform.popen", C, "runs a shell command"),
    ("platform._syscmd*", C, "runs a shell command"),
    ("uuid._popen", C, "runs a shell command"),
    ("uuid._get_command_stdout", C, "runs a command"),
    ("builtins.eval", C, "evaluates Python source"),
    ("builtins.exec", C, "executes Python source"),
    ("builtins.execfile", C, "executes a Python file"),
    (
        "builtins.compile",
        C,
        "compiles Python source to code objects",
    ),
    ("builtins.__import__", C, "imports any module"),
    ("builtins.breakpoint", C, "enters the debugger"),
    ("builtins.apply", C, "calls any callable (Python 2)"),
    (
        "types.FunctionType",
        C,
        "builds a function from a code object",
    ),
    (
        "types.LambdaType",
        C,
        "builds a function from a code object",
    ),
    ("types.CodeType", C, "builds a code object"),
    (
        "torch.fx.graph_module.*",
        C,
        "re-creates fx modules by exec()-ing source stored in the file",
    ),
    (
        "torch.utils.cpp_extension.*",
        C,
        "compiles and loads native code",
    ),
    (
        "numpy.testing._private.utils.runstring",
        C,
        "executes a Python string",
    ),
    (
        "sklearn.utils._testing.*",
        C,
        "test helpers that run Python scripts",
    ),
    ("pandas.eval", C, "evaluates expressions"),
    ("pandas.core.computation.*", C, "evaluates expressions"),
    ("imp.load_source", C, "executes a Python file"),
    ("site.*", C, "processes .pth files, which run code"),
    ("mako.*", C, "templates are Python code"),
    ("jinja2.*", C, "templates can reach Python internals"),
    // --- dangerous capabilities (HIGH)
    (
        "os.*",
        H,
        "operating-system access: files, processes, environment",
    ),
    ("builtins.open", H, "opens files for writing"),
    (
        "builtins.getattr",
        H,
        "walks attributes to reach any callable",
    ),
    (
        "builtins.setattr",
        H,
        "changes attributes of modules and objects",
    ),
    (
        "builtins.delattr",
        H,
        "removes attributes of modules and objects",
    ),
    ("builtins.globals", H, "exposes module globals"),
    ("builtins.locals", H, "exposes local variables"),
    ("builtins.vars", H, "exposes object namespaces"),
    ("builtins.__build_class__", H, "builds classes"),
    ("builtins.input", H, "reads the console"),
    ("builtins.help", H, "starts a pager"),
    ("builtins.exit", H, "ends the process"),
    ("builtins.quit", H, "ends the process"),
    ("builtins.__loader__", H, "import machinery"),
    ("builtins.super", H, "reaches parent-class methods"),
    ("io.open*", H, "opens files"),
    ("io.FileIO", H, "opens files"),
    ("codecs.open", H, "opens files"),
    ("fileinput.*", H, "opens and rewrites files"),
    ("shutil.*", H, "copies, moves and deletes files"),
    ("tempfile.*", H, "creates files"),
    ("tarfile.*", H, "extracts archives to disk"),
    ("zipfile.*", H, "extracts archives to disk"),
    ("shelve.*", H, "opens a pickle database (nested unpickler)"),
    ("dbm.*", H, "opens database files"),
    ("sqlite3.*", H, "opens database files"),
    ("mmap.*", H, "maps memory and files"),
    ("fcntl.*", H, "file and device control"),
    ("resource.*", H, "process resource limits"),
    ("signal.*", H, "installs signal handlers"),
    ("socket.*", H, "network access"),
    ("ssl.*", H, "network access"),
    ("http.*", H, "network access"),
    ("httplib.*", H, "network access"),
    ("urllib.*", H, "network access"),
    ("urllib2.*", H, "network access"),
    ("urllib3.*", H, "network access"),
    ("requests.*", H, "network access"),
    ("httpx.*", H, "network access"),
    ("aiohttp.*", H, "network access"),
    ("ftplib.*", H, "network access"),
    ("smtplib.*", H, "network access"),
    ("telnetlib.*", H, "network access"),
    ("poplib.*", H, "network access"),
    ("imaplib.*", H, "network access"),
    ("nntplib.*", H, "network access"),
    ("xmlrpc.*", H, "network access"),
    ("xmlrpclib.*", H, "network access"),
    ("socketserver.*", H, "network servers"),
    ("SocketServer.*", H, "network servers"),
    ("asyncio.*", H, "event loop: network and processes"),
    ("asyncore.*", H, "network access"),
    ("webbrowser.*", H, "opens URLs with external programs"),
    ("paramiko.*", H, "network access"),
    ("importlib.*", H, "import machinery"),
    ("imp.*", H, "import machinery"),
    (
        "pkgutil.*",
        H,
        "import machinery (resolve_name imports anything)",
    ),
    ("zipimport.*", H, "import machinery"),
    (
        "sys.*",
        H,
        "interpreter internals (sys.modules reaches any module)",
    ),
    ("gc.*", H, "reaches every live object"),
    ("inspect.*", H, "reaches frames and source"),
    (
        "operator.attrgetter",
        H,
        "walks attributes to reach any callable",
    ),
    (
        "operator.methodcaller",
        H,
        "calls a named method of any object",
    ),
    ("operator.call", H, "calls any callable"),
    (
        "copyreg.add_extension",
        H,
        "registers extension codes used to import globals",
    ),
    ("marshal.*", H, "loads code objects"),
    ("pickle.*", H, "nested unpickler"),
    ("dill._dill._create_code", C, "builds a code object"),
    (
        "dill._dill._create_function",
        C,
        "builds a function from a code object",
    ),
    (
        "dill._dill._load_type",
        C,
        "reaches CodeType and FunctionType by name",
    ),
    (
        "dill._dill._get_attr",
        H,
        "walks attributes to reach any callable",
    ),
    ("dill._dill._import_module", H, "imports any module"),
    (
        "cloudpickle.cloudpickle._builtin_type",
        C,
        "reaches CodeType and FunctionType by name",
    ),
    (
        "cloudpickle.cloudpickle._make_function",
        C,
        "builds a function from a code object",
    ),
    (
        "cloudpickle.cloudpickle_fast._builtin_type",
        C,
        "reaches CodeType and FunctionType by name",
    ),
    (
        "cloudpickle.cloudpickle_fast._make_function",
        C,
        "builds a function from a code object",
    ),
    ("dill.*", H, "nested unpickler"),
    ("cloudpickle.*", H, "nested unpickler"),
    ("jsonpickle.*", H, "nested unpickler"),
    ("yaml.*", H, "YAML loaders can construct Python objects"),
    ("joblib.load", H, "nested unpickler"),
    ("joblib.numpy_pickle.load*", H, "nested unpickler"),
    ("numpy.load", H, "nested loader (allow_pickle)"),
    ("numpy.loads", H, "nested unpickler"),
    ("numpy.lib.npyio.load", H, "nested loader (allow_pickle)"),
    (
        "numpy.lib._npyio_impl.load",
        H,
        "nested loader (allow_pickle)",
    ),
    (
        "numpy.lib.format.read_array",
        H,
        "nested loader (allow_pickle)",
    ),
    ("numpy.testing.*", H, "test helpers that run code"),
    ("numpy._pytesttester.*", H, "runs the test suite"),
    ("pandas.read_pickle", H, "nested unpickler"),
    (
        "pandas.io.*",
        H,
        "file readers and writers, nested unpickler",
    ),
    ("torch.load", H, "nested unpickler"),
    ("torch.serialization.*", H, "nested unpickler"),
    ("torch.jit.*", H, "loads TorchScript programs"),
    ("torch._C.*", H, "TorchScript and native internals"),
    ("torch.hub.*", H, "downloads and runs hub code"),
    ("torch.package.*", H, "imports packaged Python code"),
    ("torch.ops.*", H, "calls arbitrary registered operators"),
    ("torch.distributed.*", H, "network access"),
    ("torch.multiprocessing.*", H, "starts processes"),
    ("huggingface_hub.*", H, "downloads from model hubs"),
    ("keras.models.load_model", H, "nested model loader"),
    ("keras.saving.*", H, "nested model loader"),
    (
        "tensorflow.keras.models.load_model",
        H,
        "nested model loader",
    ),
    ("tensorflow.io.*", H, "file-system access"),
    ("pip.*", H, "package installer"),
    ("conda.*", H, "package installer"),
    ("venv.*", H, "creates environments and runs pip"),
    ("lib2to3.*", H, "loads grammar pickles (nested unpickler)"),
    ("threading.*", H, "starts threads running callables"),
    ("_thread.*", H, "starts threads running callables"),
    ("multiprocessing.*", H, "starts processes"),
    ("concurrent.*", H, "starts threads and processes"),
    ("atexit.*", H, "defers calls to exit time"),
    ("weakref.finalize", H, "defers calls"),
    ("sklearn.datasets.*", H, "downloads and writes files"),
    ("xgboost.tracker.*", H, "network access"),
    ("xgboost.collective.*", H, "network access"),
    ("xgboost.dask.*", H, "network access"),
    ("types.MethodType", H, "binds callables to objects"),
    ("uuid.*", H, "helpers that run commands"),
    ("platform.*", H, "helpers that run commands"),
];

/// Modules whose deny entries also apply in the middle of an attribute chain.
const STRONG: &[&str] = &[
    // Names that are unmistakably these modules; ambiguous ones (code, trace, profile, site,
    // signal, platform, http, inspect) only match at the start of a global.
    "os",
    "posix",
    "nt",
    "subprocess",
    "_posixsubprocess",
    "commands",
    "popen2",
    "builtins",
    "__builtin__",
    "__builtins__",
    "sys",
    "importlib",
    "pkgutil",
    "zipimport",
    "pty",
    "runpy",
    "ctypes",
    "_ctypes",
    "cffi",
    "socket",
    "shutil",
    "tempfile",
    "pickle",
    "_pickle",
    "cPickle",
    "marshal",
    "dill",
    "cloudpickle",
    "joblib",
    "types",
    "operator",
    "pdb",
    "bdb",
    "timeit",
    "cProfile",
    "doctest",
    "idlelib",
    "pydoc",
    "pexpect",
    "webbrowser",
    "asyncio",
    "ensurepip",
    "distutils",
    "setuptools",
    "pip",
    "urllib",
    "urllib2",
    "requests",
    "httplib",
    "ftplib",
    "smtplib",
    "telnetlib",
    "pipes",
    "_winapi",
    "_osx_support",
    "torch",
    "numpy",
    "io",
    "codecs",
    "copyreg",
];

/// Exact allow entries: data constructors real checkpoints use.
const ALLOW_EXACT: &[&str] = &[
    "builtins.set",
    "builtins.frozenset",
    "builtins.dict",
    "builtins.list",
    "builtins.tuple",
    "builtins.bytearray",
    "builtins.bytes",
    "builtins.str",
    "builtins.int",
    "builtins.float",
    "builtins.complex",
    "builtins.bool",
    "builtins.slice",
    "builtins.range",
    "builtins.object",
    "builtins.Ellipsis",
    "builtins.NotImplemented",
    "builtins.unicode",
    "builtins.long",
    "copyreg._reconstructor",
    "copyreg.__newobj__",
    "copyreg.__newobj_ex__",
    "codecs.encode",
    "collections.OrderedDict",
    "collections.defaultdict",
    "collections.deque",
    "collections.Counter",
    "datetime.datetime",
    "datetime.date",
    "datetime.time",
    "datetime.timedelta",
    "datetime.timezone",
    "decimal.Decimal",
    "fractions.Fraction",
    "uuid.UUID",
    "re._compile",
    "argparse.Namespace",
    "types.SimpleNamespace",
    "pathlib.Path",
    "pathlib.PosixPath",
    "pathlib.WindowsPath",
    "pathlib.PurePath",
    "pathlib.PurePosixPath",
    "pathlib.PureWindowsPath",
    "numpy.core.multiarray._reconstruct",
    "numpy.core.multiarray.scalar",
    "numpy.core.numeric._frombuffer",
    "numpy.core._ufunc_reconstruct",
    "numpy.ndarray",
    "numpy.dtype",
    "numpy.ma.core._mareconstruct",
    "numpy.ma.core.MaskedArray",
    "numpy.matrix",
    "numpy.matrixlib.defmatrix.matrix",
    "numpy.core.multiarray.array",
    "numpy.core.records.recarray",
    "numpy.bool_",
    "numpy.bool",
    "numpy.int8",
    "numpy.int16",
    "numpy.int32",
    "numpy.int64",
    "numpy.uint8",
    "numpy.uint16",
    "numpy.uint32",
    "numpy.uint64",
    "numpy.float16",
    "numpy.float32",
    "numpy.float64",
    "numpy.float128",
    "numpy.longdouble",
    "numpy.complex64",
    "numpy.complex128",
    "numpy.complex256",
    "numpy.clongdouble",
    "numpy.str_",
    "numpy.bytes_",
    "numpy.void",
    "numpy.object_",
    "numpy.datetime64",
    "numpy.timedelta64",
    "numpy.intc",
    "numpy.uintc",
    "numpy.intp",
    "numpy.uintp",
    "numpy.short",
    "numpy.ushort",
    "numpy.longlong",
    "numpy.ulonglong",
    "numpy.half",
    "numpy.single",
    "numpy.double",
    "numpy.csingle",
    "numpy.cdouble",
    "numpy.int_",
    "numpy.uint",
    "numpy.float_",
    "numpy.complex_",
    "torch._tensor._rebuild_from_type_v2",
    "torch.Tensor",
    "torch._tensor.Tensor",
    "torch.nn.parameter.Parameter",
    "torch.nn.parameter.UninitializedParameter",
    "torch.nn.parameter.Buffer",
    "torch.Size",
    "torch.device",
    "torch.storage.UntypedStorage",
    "torch.storage.TypedStorage",
    "torch.storage._load_from_bytes",
    "torch.float32",
    "torch.float",
    "torch.float64",
    "torch.double",
    "torch.float16",
    "torch.half",
    "torch.bfloat16",
    "torch.uint8",
    "torch.int8",
    "torch.int16",
    "torch.short",
    "torch.int32",
    "torch.int",
    "torch.int64",
    "torch.long",
    "torch.bool",
    "torch.complex32",
    "torch.complex64",
    "torch.complex128",
    "torch.cfloat",
    "torch.cdouble",
    "torch.qint8",
    "torch.quint8",
    "torch.qint32",
    "torch.quint4x2",
    "torch.float8_e4m3fn",
    "torch.float8_e5m2",
    "torch.uint16",
    "torch.uint32",
    "torch.uint64",
    "torch.strided",
    "torch.sparse_coo",
    "torch.sparse_csr",
    "torch.sparse_csc",
    "torch.sparse_bsr",
    "torch.sparse_bsc",
    "torch._mkldnn",
    "torch.contiguous_format",
    "torch.channels_last",
    "torch.channels_last_3d",
    "torch.preserve_format",
    "torch.per_tensor_affine",
    "torch.per_channel_affine",
    "torch.per_tensor_symmetric",
    "torch.per_channel_symmetric",
    "torch.per_channel_affine_float_qparams",
    "joblib.numpy_pickle.NumpyArrayWrapper",
    "joblib.numpy_pickle.NDArrayWrapper",
    "joblib.numpy_pickle_compat.NDArrayWrapper",
    "joblib.numpy_pickle_compat.ZNDArrayWrapper",
    "xgboost.core.Booster",
    "xgboost.sklearn.XGBClassifier",
    "xgboost.sklearn.XGBRegressor",
    "xgboost.sklearn.XGBRanker",
    "xgboost.sklearn.XGBRFClassifier",
    "xgboost.sklearn.XGBRFRegressor",
    "xgboost.sklearn.XGBModel",
    "lightgbm.basic.Booster",
    "lightgbm.sklearn.LGBMClassifier",
    "lightgbm.sklearn.LGBMRegressor",
    "lightgbm.sklearn.LGBMRanker",
    "lightgbm.sklearn.LGBMModel",
    // Hugging Face training_args.bin: dataclasses and enums that only hold settings.
    "transformers.training_args.TrainingArguments",
    "transformers.training_args.OptimizerNames",
    "transformers.training_args.ParallelMode",
    "transformers.training_args_seq2seq.Seq2SeqTrainingArguments",
    "transformers.trainer_utils.IntervalStrategy",
    "transformers.trainer_utils.SchedulerType",
    "transformers.trainer_utils.HubStrategy",
    "transformers.trainer_utils.SaveStrategy",
    "transformers.trainer_utils.EvaluationStrategy",
    "transformers.trainer_utils.FSDPOption",
    "transformers.debug_utils.DebugOption",
    "transformers.trainer_pt_utils.AcceleratorConfig",
    "accelerate.utils.dataclasses.DistributedType",
    "accelerate.state.PartialState",
    "torch.torch_version.TorchVersion",
    "enum.Enum",
    // PyTorch Lightning checkpoints: hyper-parameters as OmegaConf containers or AttributeDict.
    "omegaconf.dictconfig.DictConfig",
    "omegaconf.listconfig.ListConfig",
    "omegaconf.base.ContainerMetadata",
    "omegaconf.base.Metadata",
    "omegaconf.nodes.AnyNode",
    "omegaconf.nodes.StringNode",
    "omegaconf.nodes.IntegerNode",
    "omegaconf.nodes.FloatNode",
    "omegaconf.nodes.BooleanNode",
    "pytorch_lightning.utilities.parsing.AttributeDict",
    "lightning_fabric.utilities.data.AttributeDict",
    "lightning.fabric.utilities.data.AttributeDict",
    "typing.Any",
    "typing.Dict",
    "typing.List",
    "typing.Tuple",
    "typing.Optional",
    "typing.Union",
    // TorchScript archives (torch.jit.save): constants.pkl and data.pkl build lists and tensors
    // with these data-only helpers.
    "torch.jit._pickle.build_intlist",
    "torch.jit._pickle.build_floatlist",
    "torch.jit._pickle.build_boollist",
    "torch.jit._pickle.build_doublelist",
    "torch.jit._pickle.build_tensorlist",
    "torch.jit._pickle.build_tensor_from_id",
    "torch.jit._pickle.restore_type_tag",
];

/// NumPy ufuncs and pure array functions that pickles name (`FunctionTransformer(np.log1p)`, numpy 2
/// pickles ufuncs by name). Math only: nothing here reads or writes files or imports.
const NUMPY_MATH: &[&str] = &[
    "add",
    "subtract",
    "multiply",
    "divide",
    "true_divide",
    "floor_divide",
    "negative",
    "positive",
    "power",
    "float_power",
    "remainder",
    "mod",
    "fmod",
    "divmod",
    "absolute",
    "abs",
    "fabs",
    "rint",
    "sign",
    "heaviside",
    "conj",
    "conjugate",
    "exp",
    "exp2",
    "log",
    "log2",
    "log10",
    "expm1",
    "log1p",
    "sqrt",
    "square",
    "cbrt",
    "reciprocal",
    "gcd",
    "lcm",
    "sin",
    "cos",
    "tan",
    "arcsin",
    "arccos",
    "arctan",
    "arctan2",
    "hypot",
    "sinh",
    "cosh",
    "tanh",
    "arcsinh",
    "arccosh",
    "arctanh",
    "deg2rad",
    "rad2deg",
    "degrees",
    "radians",
    "bitwise_and",
    "bitwise_or",
    "bitwise_xor",
    "invert",
    "left_shift",
    "right_shift",
    "greater",
    "greater_equal",
    "less",
    "less_equal",
    "not_equal",
    "equal",
    "logical_and",
    "logical_or",
    "logical_xor",
    "logical_not",
    "maximum",
    "minimum",
    "fmax",
    "fmin",
    "isfinite",
    "isinf",
    "isnan",
    "isnat",
    "signbit",
    "copysign",
    "nextafter",
    "spacing",
    "modf",
    "ldexp",
    "frexp",
    "floor",
    "ceil",
    "trunc",
    "logaddexp",
    "logaddexp2",
    "clip",
    "mean",
    "sum",
    "median",
    "std",
    "var",
    "max",
    "min",
    "amax",
    "amin",
    "nanmean",
    "nanmedian",
    "nansum",
    "nanstd",
    "nanvar",
    "nanmax",
    "nanmin",
    "argmax",
    "argmin",
    "average",
    "round",
    "around",
    "cumsum",
    "cumprod",
    "prod",
    "dot",
    "matmul",
    "sort",
    "argsort",
    "percentile",
    "quantile",
    "nan_to_num",
    "asarray",
    "array",
    "zeros",
    "ones",
    "full",
    "arange",
    "linspace",
    "ravel",
    "transpose",
    "concatenate",
    "stack",
    "hstack",
    "vstack",
    "unique",
    "histogram",
    "digitize",
    "where",
];

/// Prefix allow entries, each with the reason it is safe. Deny entries win over these.
const ALLOW_PREFIX: &[(&str, &str)] = &[
    (
        "__torch__.",
        "TorchScript classes: torch.jit's unpickler maps them to compiled TorchScript types, and Python's pickle cannot import them at all",
    ),
    (
        "scipy.special.",
        "special-function ufuncs (expit, logit ...), math only",
    ),
    (
        "numpy.random._pickle.__",
        "bit-generator and Generator constructors that look names up in NumPy's own table",
    ),
    (
        "torch._utils._rebuild_",
        "tensor and parameter rebuild helpers: they only wrap storages",
    ),
    (
        "torch.nn.modules.",
        "layer classes, rebuilt through __new__ and __setstate__, which set attributes only",
    ),
    (
        "torch.optim.",
        "optimizer classes, whose __setstate__ only restores state dicts",
    ),
    (
        "sklearn.",
        "scikit-learn estimators: __setstate__ sets attributes; dangerous helpers are denied first",
    ),
    ("scipy.sparse.", "sparse matrix containers"),
    ("numpy.dtypes.", "NumPy 2 dtype classes (data only)"),
    (
        "numpy.random.",
        "random generators; constructors look bit generators up in NumPy's own table",
    ),
    (
        "pandas.core.",
        "DataFrame, Series and index containers; evaluation helpers are denied first",
    ),
    (
        "pandas._libs.",
        "pandas block and timestamp rebuild helpers",
    ),
];

/// Fold module aliases so one deny or allow entry covers all spellings.
pub(crate) fn normalize(global: &str) -> String {
    const ALIASES: &[(&str, &str)] = &[
        ("__builtin__", "builtins"),
        ("__builtins__", "builtins"),
        ("exceptions", "builtins"),
        ("posix", "os"),
        ("nt", "os"),
        ("copy_reg", "copyreg"),
        ("cPickle", "pickle"),
        ("_pickle", "pickle"),
        ("_io", "io"),
        ("_codecs", "codecs"),
        ("_operator", "operator"),
        ("_functools", "functools"),
        ("_socket", "socket"),
        ("_collections", "collections"),
        ("_sre", "re"),
        ("numpy._core", "numpy.core"),
        ("sklearn.externals.joblib", "joblib"),
        ("pathlib._local", "pathlib"),
        ("torch.storage._TypedStorage", "torch.storage.TypedStorage"),
    ];
    for (from, to) in ALIASES {
        if let Some(rest) = global.strip_prefix(from) {
            if rest.is_empty() || rest.starts_with('.') {
                return format!("{to}{rest}");
            }
        }
    }
    global.to_string()
}

fn deny_match(global: &str) -> Option<(Severity, &'static str)> {
    for (pat, sev, why) in DENY {
        let hit = if let Some(module) = pat.strip_suffix(".*") {
            global == module
                || (global.starts_with(module)
                    && global.as_bytes().get(module.len()) == Some(&b'.'))
        } else if let Some(prefix) = pat.strip_suffix('*') {
            global.starts_with(prefix)
        } else {
            global == *pat
        };
        if hit {
            return Some((*sev, why));
        }
    }
    None
}

/// Judge one dotted global against the built-in lists.
pub(crate) fn judge(global: &str) -> Verdict {
    let g = normalize(global);
    if ALLOW_EXACT.contains(&g.as_str())
        || g.strip_prefix("numpy.")
            .is_some_and(|n| NUMPY_MATH.contains(&n))
        || matches!(
            g.as_str(),
            "numpy.random._pickle.__bit_generator_ctor"
                | "numpy.random._pickle.__randomstate_ctor"
                | "numpy.random._pickle.__generator_ctor"
        )
    {
        return Verdict::Safe;
    }
    let mut worst: Option<(Severity, &'static str)> = deny_match(&g);
    // Attribute chains: `a.b.os.system` reaches `os.system`.
    let segs: Vec<&str> = g.split('.').collect();
    for j in 1..segs.len() {
        let seg = segs.get(j).copied().unwrap_or_default();
        let suffix = normalize(&segs.get(j..).unwrap_or_default().join("."));
        let head = suffix.split('.').next().unwrap_or_default();
        if STRONG.contains(&head) || STRONG.contains(&seg) {
            if let Some(hit) = deny_match(&suffix) {
                if worst.is_none_or(|w| hit.0 > w.0) {
                    worst = Some(hit);
                }
            }
        }
        if matches!(
            seg,
            "__globals__"
                | "__builtins__"
                | "__subclasses__"
                | "__code__"
                | "__dict__"
                | "__class__"
                | "__bases__"
                | "__mro__"
                | "__import__"
                | "__loader__"
                | "__spec__"
        ) {
            let hit = (
                Severity::High,
                "walks Python internals to reach other objects",
            );
            if worst.is_none_or(|w| hit.0 > w.0) {
                worst = Some(hit);
            }
        }
    }
    if segs.last().is_some_and(|s| {
        *s == "from_pretrained" || *s == "snapshot_download" || *s == "hf_hub_download"
    }) {
        let hit = (Severity::High, "downloads from a model hub");
        if worst.is_none_or(|w| hit.0 > w.0) {
            worst = Some(hit);
        }
    }
    // Names that say what they do, in any module: subprocess helpers, popen, spawn.
    if segs.iter().any(|s| {
        let l = s.to_ascii_lowercase();
        l.contains("subprocess") || l.contains("popen") || l.starts_with("spawn")
    }) {
        worst = Some((Severity::Critical, "starts programs"));
    }
    if let Some((sev, why)) = worst {
        return Verdict::Deny(sev, why);
    }
    // A prefix covers modules' classes and functions, not attributes of a class (a method
    // such as `DataFrame.to_pickle` called unbound can write files).
    let method = segs
        .iter()
        .position(|s| s.starts_with(|c: char| c.is_ascii_uppercase()))
        .is_some_and(|i| i + 1 < segs.len());
    for (prefix, _why) in ALLOW_PREFIX {
        if g.starts_with(prefix) && !method {
            return Verdict::Safe;
        }
    }
    // torch.FloatStorage, torch.cuda.HalfStorage, torch.LongTensor ...
    if let Some(rest) = g
        .strip_prefix("torch.")
        .map(|r| r.strip_prefix("cuda.").unwrap_or(r))
    {
        if !rest.contains('.') && (rest.ends_with("Storage") || rest.ends_with("Tensor")) {
            return Verdict::Safe;
        }
    }
    Verdict::Unknown
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists() {
        assert_eq!(
            judge("posix.system"),
            Verdict::Deny(C, "runs a shell command")
        );
        assert_eq!(judge("nt.system"), Verdict::Deny(C, "runs a shell command"));
        assert!(matches!(judge("os.remove"), Verdict::Deny(H, _)));
        assert!(matches!(judge("__builtin__.eval"), Verdict::Deny(C, _)));
        assert!(matches!(
            judge("torch.serialization.os.system"),
            Verdict::Deny(C, _)
        ));
        assert!(matches!(judge("builtins.getattr"), Verdict::Deny(H, _)));
        assert!(matches!(judge("_pickle.loads"), Verdict::Deny(H, _)));
        assert_eq!(judge("torch._utils._rebuild_tensor_v2"), Verdict::Safe);
        assert_eq!(judge("torch.FloatStorage"), Verdict::Safe);
        assert_eq!(judge("numpy._core.multiarray._reconstruct"), Verdict::Safe);
        assert_eq!(
            judge("sklearn.linear_model._logistic.LogisticRegression"),
            Verdict::Safe
        );
        assert!(matches!(
            judge("sklearn.utils._testing.assert_run_python_script"),
            Verdict::Deny(C, _)
        ));
        assert_eq!(judge("mypkg.Net"), Verdict::Unknown);
        assert_eq!(judge("mypkg.code.Model"), Verdict::Unknown);
        assert_eq!(judge("scipy.signal.TransferFunction"), Verdict::Unknown);
        assert!(matches!(judge("mypkg.runpy.run_path"), Verdict::Deny(C, _)));
        assert!(matches!(judge("mypkg.posix.system"), Verdict::Deny(C, _)));
        // modelscan issue 89: attributes planted on numpy.prod through BUILD, then reached.
        assert!(matches!(judge("numpy.prod.os.system"), Verdict::Deny(C, _)));
        assert!(matches!(
            judge("numpy.core._internal.sys.modules"),
            Verdict::Deny(H, _)
        ));
        assert!(matches!(judge("mailcap.findmatch"), Verdict::Deny(C, _)));
        assert_eq!(judge("__torch__.my_model.Net"), Verdict::Safe);
        assert_eq!(judge("torch.jit._pickle.build_intlist"), Verdict::Safe);
        assert!(matches!(judge("torch.jit.load"), Verdict::Deny(H, _)));
        assert!(matches!(
            judge("numpy.random._pickle.os.system"),
            Verdict::Deny(C, _)
        ));
        assert!(matches!(
            judge("numpy.random._pickle.__builtins__.eval"),
            Verdict::Deny(C, _)
        ));
        assert_eq!(
            judge("numpy.random._pickle.__randomstate_ctor"),
            Verdict::Safe
        );
        assert_eq!(
            judge("sklearn.base.BaseEstimator.set_params"),
            Verdict::Unknown
        );
        assert_eq!(judge("posixpath.join"), Verdict::Unknown);
        assert!(matches!(
            judge("transformers.AutoModel.from_pretrained"),
            Verdict::Deny(H, _)
        ));
    }
}
