//! Every sample of the committed corpus (tests/data, written by tests/corpus/make_corpus.py)
//! gives exactly the findings listed here: severity, rule, global and member, in report order.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers

use std::path::Path;

use vigil_scan::{Limits, Policy, Rule, Scanner, Severity};

use Severity::{Critical, High, Low, Medium};

type Expect = (
    &'static str,
    &'static str,
    &'static [(
        Severity,
        &'static str,
        Option<&'static str>,
        Option<&'static str>,
    )],
);

const CORPUS: &[Expect] = &[
    ("benign/README.md", "text", &[(Low, "not-a-model", None, None)]),
    ("benign/array.npy", "npy", &[]),
    ("benign/arrays.npz", "npz", &[]),
    ("benign/config.json", "text", &[(Low, "not-a-model", None, None)]),
    ("benign/legacy_state_dict.pt", "pytorch-legacy", &[]),
    ("benign/lightgbm_classifier.joblib", "joblib", &[]),
    ("benign/log1p_gradient_boosting.joblib", "joblib", &[]),
    ("benign/logo.png", "png", &[(Low, "not-a-model", None, None)]),
    ("benign/model.gguf", "gguf", &[]),
    ("benign/model.keras", "keras", &[]),
    ("benign/model.onnx", "onnx", &[]),
    ("benign/model.safetensors", "safetensors", &[]),
    ("benign/numpy_objects.pkl", "pickle", &[]),
    ("benign/onnx_external/model.onnx", "onnx", &[]),
    ("benign/onnx_external/weights.bin", "onnx-external-data", &[]),
    ("benign/random_forest.joblib", "joblib", &[]),
    ("benign/random_forest_zlib.joblib", "zlib/joblib", &[]),
    ("benign/random_generators.pkl", "pickle", &[]),
    ("benign/sklearn_pipeline.joblib", "joblib", &[]),
    ("benign/sklearn_pipeline.pkl", "pickle", &[]),
    ("benign/sklearn_pipeline_p2.pkl", "pickle", &[]),
    ("benign/state_dict.pt", "pytorch-zip", &[]),
    ("benign/tokenizer.model", "sentencepiece", &[(Low, "not-a-model", None, None)]),
    ("benign/xgboost_classifier.pkl", "pickle", &[]),
    ("malformed/bad_dtype.safetensors", "safetensors", &[(Medium, "safetensors-malformed", None, None)]),
    ("malformed/bad_header.npy", "npy", &[(Medium, "numpy-malformed", None, None)]),
    ("malformed/bad_opcode.pkl", "pickle", &[(Medium, "pickle-malformed", None, None)]),
    ("malformed/deep_lists.pkl", "pickle", &[]),
    ("malformed/empty.bin", "text", &[(Low, "not-a-model", None, None)]),
    ("malformed/gzip_bomb.pkl.gz", "gzip/pickle", &[]),
    ("malformed/huge_header.safetensors", "safetensors", &[(Medium, "safetensors-malformed", None, None)]),
    ("malformed/memo_missing.pkl", "pickle", &[(Medium, "pickle-malformed", None, None)]),
    ("malformed/nested_12_deep.zip", "zip", &[(Medium, "resource-limit", None, Some("level11.zip!level10.zip!level9.zip!level8.zip!level7.zip!level6.zip!level5.zip!level4.zip!level3.zip"))]),
    ("malformed/overlap.safetensors", "safetensors", &[(Medium, "safetensors-malformed", None, None)]),
    ("malformed/random.bin", "unknown", &[(Medium, "unknown-format", None, None)]),
    ("malformed/truncated.gguf", "gguf", &[(Medium, "gguf-malformed", None, None)]),
    ("malformed/truncated.onnx", "onnx", &[(Medium, "onnx-malformed", None, None)]),
    ("malformed/truncated.pkl", "pickle", &[(Medium, "pickle-malformed", None, None)]),
    ("malformed/truncated_zip.pt", "zip", &[(Medium, "archive-malformed", None, None)]),
    ("malformed/zip_bomb.zip", "zip", &[(Medium, "unknown-format", None, Some("bomb.bin"))]),
    ("malicious/attrgetter.pkl", "pickle", &[(Critical, "pickle-code-execution", Some("posixpath.os.system"), None), (High, "pickle-dangerous-global", Some("operator.attrgetter"), None), (High, "pickle-dangerous-global", Some("posixpath.os"), None)]),
    ("malicious/broken_after_call.pkl", "pickle", &[(Critical, "pickle-code-execution", Some("os.system"), None), (Medium, "pickle-malformed", None, None)]),
    ("malicious/build_planted_attribute.pkl", "pickle", &[(Critical, "pickle-code-execution", Some("numpy.prod.os.system"), None), (High, "pickle-dangerous-global", Some("numpy.core._internal.sys.modules"), None), (High, "pickle-module-mutation", Some("numpy.prod"), None)]),
    ("malicious/builtins_exec.pkl", "pickle", &[(Critical, "pickle-code-execution", Some("builtins.exec"), None)]),
    ("malicious/concatenated.pkl", "pickle", &[(Critical, "pickle-code-execution", Some("os.system"), None)]),
    ("malicious/dill_create_code.pkl", "pickle", &[(Critical, "pickle-code-execution", Some("dill._dill._create_code"), None)]),
    ("malicious/dynamic_stack_global.pkl", "pickle", &[(Critical, "pickle-code-execution", Some("os.system"), None)]),
    ("malicious/dynamic_stack_global_unresolved.pkl", "pickle", &[(Critical, "pickle-dynamic-import", None, None), (Medium, "pickle-unknown-global", Some("builtins.str.lower"), None)]),
    ("malicious/evil.pkl.bz2", "bz2/pickle", &[(Critical, "pickle-code-execution", Some("os.system"), None)]),
    ("malicious/evil.pkl.gz", "gzip/pickle", &[(Critical, "pickle-code-execution", Some("os.system"), None)]),
    ("malicious/evil.pkl.lzma", "lzma/pickle", &[(Critical, "pickle-code-execution", Some("os.system"), None)]),
    ("malicious/evil.pkl.xz", "xz/pickle", &[(Critical, "pickle-code-execution", Some("os.system"), None)]),
    ("malicious/evil_old_joblib_zfile.pkl", "joblib-zfile/zlib/pickle", &[(Critical, "pickle-code-execution", Some("os.system"), None)]),
    ("malicious/evil_zlib.joblib", "zlib/pickle", &[(Critical, "pickle-code-execution", Some("os.system"), None)]),
    ("malicious/ext_registered.pkl", "pickle", &[(Critical, "pickle-code-execution", Some("os.system"), None), (High, "pickle-dangerous-global", Some("copyreg.add_extension"), None)]),
    ("malicious/ext_unregistered.pkl", "pickle", &[(Medium, "pickle-extension-code", None, None)]),
    ("malicious/getattr_import_module.pkl", "pickle", &[(Critical, "pickle-code-execution", Some("os.system"), None), (High, "pickle-dangerous-global", Some("builtins.getattr"), None), (High, "pickle-dangerous-global", Some("importlib.import_module"), None), (High, "pickle-dangerous-global", Some("os"), None)]),
    ("malicious/gguf_template_injection.gguf", "gguf", &[(Critical, "gguf-template-injection", None, None)]),
    ("malicious/globals/__builtin__.eval.pkl", "pickle", &[(Critical, "pickle-code-execution", Some("__builtin__.eval"), None)]),
    ("malicious/globals/_pickle.loads.pkl", "pickle", &[(High, "pickle-dangerous-global", Some("_pickle.loads"), None)]),
    ("malicious/globals/_posixsubprocess.fork_exec.pkl", "pickle", &[(Critical, "pickle-code-execution", Some("_posixsubprocess.fork_exec"), None)]),
    ("malicious/globals/asyncio.create_subprocess_shell.pkl", "pickle", &[(Critical, "pickle-code-execution", Some("asyncio.create_subprocess_shell"), None)]),
    ("malicious/globals/asyncio.unix_events._UnixSelectorEventLoop._make_subprocess_transport.pkl", "pickle", &[(Critical, "pickle-code-execution", Some("asyncio.unix_events._UnixSelectorEventLoop._make_subprocess_transport"), None)]),
    ("malicious/globals/bdb.Bdb.pkl", "pickle", &[(Critical, "pickle-code-execution", Some("bdb.Bdb"), None)]),
    ("malicious/globals/builtins.__import__.pkl", "pickle", &[(Critical, "pickle-code-execution", Some("builtins.__import__"), None), (Medium, "pickle-unknown-global", Some("id"), None)]),
    ("malicious/globals/builtins.compile.pkl", "pickle", &[(Critical, "pickle-code-execution", Some("builtins.compile"), None)]),
    ("malicious/globals/builtins.eval.pkl", "pickle", &[(Critical, "pickle-code-execution", Some("builtins.eval"), None)]),
    ("malicious/globals/builtins.getattr.pkl", "pickle", &[(High, "pickle-dangerous-global", Some("builtins.getattr"), None)]),
    ("malicious/globals/builtins.open.pkl", "pickle", &[(High, "pickle-dangerous-global", Some("builtins.open"), None)]),
    ("malicious/globals/cProfile.run.pkl", "pickle", &[(Critical, "pickle-code-execution", Some("cProfile.run"), None)]),
    ("malicious/globals/cloudpickle.loads.pkl", "pickle", &[(High, "pickle-dangerous-global", Some("cloudpickle.loads"), None)]),
    ("malicious/globals/code.InteractiveInterpreter.pkl", "pickle", &[(Critical, "pickle-code-execution", Some("code.InteractiveInterpreter"), None)]),
    ("malicious/globals/ctypes.CDLL.pkl", "pickle", &[(Critical, "pickle-code-execution", Some("ctypes.CDLL"), None)]),
    ("malicious/globals/dill._dill._load_type.pkl", "pickle", &[(Critical, "pickle-code-execution", Some("dill._dill._load_type"), None)]),
    ("malicious/globals/dill.load.pkl", "pickle", &[(High, "pickle-dangerous-global", Some("dill.load"), None)]),
    ("malicious/globals/distutils.spawn.spawn.pkl", "pickle", &[(Critical, "pickle-code-execution", Some("distutils.spawn.spawn"), None)]),
    ("malicious/globals/doctest.debug_script.pkl", "pickle", &[(Critical, "pickle-code-execution", Some("doctest.debug_script"), None)]),
    ("malicious/globals/functools.partial.pkl", "pickle", &[(High, "pickle-dangerous-global", Some("functools.partial"), None)]),
    ("malicious/globals/huggingface_hub.hf_hub_download.pkl", "pickle", &[(High, "pickle-dangerous-global", Some("huggingface_hub.hf_hub_download"), None)]),
    ("malicious/globals/idlelib.pyshell.ModifiedInterpreter.pkl", "pickle", &[(Critical, "pickle-code-execution", Some("idlelib.pyshell.ModifiedInterpreter"), None)]),
    ("malicious/globals/importlib.import_module.pkl", "pickle", &[(High, "pickle-dangerous-global", Some("importlib.import_module"), None), (Medium, "pickle-unknown-global", Some("id"), None)]),
    ("malicious/globals/joblib.load.pkl", "pickle", &[(High, "pickle-dangerous-global", Some("joblib.load"), None)]),
    ("malicious/globals/lib2to3.pgen2.grammar.Grammar.pkl", "pickle", &[(High, "pickle-dangerous-global", Some("lib2to3.pgen2.grammar.Grammar"), None)]),
    ("malicious/globals/marshal.loads.pkl", "pickle", &[(High, "pickle-dangerous-global", Some("marshal.loads"), None)]),
    ("malicious/globals/multiprocessing.util.spawnv_passfds.pkl", "pickle", &[(Critical, "pickle-code-execution", Some("multiprocessing.util.spawnv_passfds"), None)]),
    ("malicious/globals/mypkg.layers.Block.pkl", "pickle", &[(Medium, "pickle-unknown-global", Some("mypkg.layers.Block"), None)]),
    ("malicious/globals/nt.system.pkl", "pickle", &[(Critical, "pickle-code-execution", Some("nt.system"), None)]),
    ("malicious/globals/numpy._pytesttester.pkl", "pickle", &[(High, "pickle-dangerous-global", Some("numpy._pytesttester"), None)]),
    ("malicious/globals/numpy.load.pkl", "pickle", &[(High, "pickle-dangerous-global", Some("numpy.load"), None)]),
    ("malicious/globals/numpy.testing._private.utils.runstring.pkl", "pickle", &[(Critical, "pickle-code-execution", Some("numpy.testing._private.utils.runstring"), None)]),
    ("malicious/globals/operator.attrgetter.pkl", "pickle", &[(High, "pickle-dangerous-global", Some("operator.attrgetter"), None)]),
    ("malicious/globals/os.execv.pkl", "pickle", &[(Critical, "pickle-code-execution", Some("os.execv"), None)]),
    ("malicious/globals/os.remove.pkl", "pickle", &[(High, "pickle-dangerous-global", Some("os.remove"), None)]),
    ("malicious/globals/pandas.core.frame.DataFrame.to_pickle.pkl", "pickle", &[(Medium, "pickle-unknown-global", Some("pandas.core.frame.DataFrame.to_pickle"), None)]),
    ("malicious/globals/pdb.run.pkl", "pickle", &[(Critical, "pickle-code-execution", Some("pdb.run"), None)]),
    ("malicious/globals/pickle.loads.pkl", "pickle", &[(High, "pickle-dangerous-global", Some("pickle.loads"), None)]),
    ("malicious/globals/pip.main.pkl", "pickle", &[(High, "pickle-dangerous-global", Some("pip.main"), None)]),
    ("malicious/globals/platform.popen.pkl", "pickle", &[(Critical, "pickle-code-execution", Some("platform.popen"), None)]),
    ("malicious/globals/posix.popen.pkl", "pickle", &[(Critical, "pickle-code-execution", Some("posix.popen"), None)]),
    ("malicious/globals/posixpath.join.pkl", "pickle", &[(Medium, "pickle-unknown-global", Some("posixpath.join"), None)]),
    ("malicious/globals/pty.spawn.pkl", "pickle", &[(Critical, "pickle-code-execution", Some("pty.spawn"), None)]),
    ("malicious/globals/pydoc.pipepager.pkl", "pickle", &[(Critical, "pickle-code-execution", Some("pydoc.pipepager"), None)]),
    ("malicious/globals/requests.get.pkl", "pickle", &[(High, "pickle-dangerous-global", Some("requests.get"), None)]),
    ("malicious/globals/runpy._run_code.pkl", "pickle", &[(Critical, "pickle-code-execution", Some("runpy._run_code"), None)]),
    ("malicious/globals/setuptools.sandbox.run_setup.pkl", "pickle", &[(Critical, "pickle-code-execution", Some("setuptools.sandbox.run_setup"), None)]),
    ("malicious/globals/shutil.rmtree.pkl", "pickle", &[(High, "pickle-dangerous-global", Some("shutil.rmtree"), None)]),
    ("malicious/globals/socket.create_connection.pkl", "pickle", &[(High, "pickle-dangerous-global", Some("socket.create_connection"), None)]),
    ("malicious/globals/subprocess.Popen.pkl", "pickle", &[(Critical, "pickle-code-execution", Some("subprocess.Popen"), None)]),
    ("malicious/globals/sys.modules.pkl", "pickle", &[(High, "pickle-dangerous-global", Some("sys.modules"), None)]),
    ("malicious/globals/timeit.timeit.pkl", "pickle", &[(Critical, "pickle-code-execution", Some("timeit.timeit"), None)]),
    ("malicious/globals/torch._C._import_ir_module.pkl", "pickle", &[(High, "pickle-dangerous-global", Some("torch._C._import_ir_module"), None)]),
    ("malicious/globals/torch._inductor.codecache.compile_file.pkl", "pickle", &[(Critical, "pickle-code-execution", Some("torch._inductor.codecache.compile_file"), None)]),
    ("malicious/globals/torch.fx.graph_module.reduce_graph_module.pkl", "pickle", &[(Critical, "pickle-code-execution", Some("torch.fx.graph_module.reduce_graph_module"), None)]),
    ("malicious/globals/torch.hub.load.pkl", "pickle", &[(High, "pickle-dangerous-global", Some("torch.hub.load"), None)]),
    ("malicious/globals/torch.jit.load.pkl", "pickle", &[(High, "pickle-dangerous-global", Some("torch.jit.load"), None)]),
    ("malicious/globals/torch.load.pkl", "pickle", &[(High, "pickle-dangerous-global", Some("torch.load"), None)]),
    ("malicious/globals/torch.serialization.os.system.pkl", "pickle", &[(Critical, "pickle-code-execution", Some("torch.serialization.os.system"), None)]),
    ("malicious/globals/torch.utils.collect_env.run.pkl", "pickle", &[(Critical, "pickle-code-execution", Some("torch.utils.collect_env.run"), None)]),
    ("malicious/globals/trace.Trace.pkl", "pickle", &[(Critical, "pickle-code-execution", Some("trace.Trace"), None)]),
    ("malicious/globals/types.FunctionType.pkl", "pickle", &[(Critical, "pickle-code-execution", Some("types.FunctionType"), None)]),
    ("malicious/globals/urllib.request.urlopen.pkl", "pickle", &[(High, "pickle-dangerous-global", Some("urllib.request.urlopen"), None)]),
    ("malicious/globals/webbrowser.open.pkl", "pickle", &[(High, "pickle-dangerous-global", Some("webbrowser.open"), None)]),
    ("malicious/inst_p0.pkl", "pickle", &[(Critical, "pickle-code-execution", Some("os.system"), None)]),
    ("malicious/joblib_object_array.joblib", "joblib", &[(Critical, "pickle-code-execution", Some("posix.system"), None)]),
    ("malicious/joblib_payload.joblib", "joblib", &[(Critical, "pickle-code-execution", Some("posix.system"), None)]),
    ("malicious/keras_custom_layer.keras", "keras", &[(Medium, "keras-unknown-module", Some("my_layers.Custom"), Some("config.json"))]),
    ("malicious/keras_lambda.keras", "keras", &[(Critical, "keras-lambda", None, Some("config.json")), (Critical, "keras-lambda", None, Some("config.json"))]),
    ("malicious/keras_os_function.keras", "keras", &[(Critical, "keras-unknown-module", Some("os.system"), Some("config.json"))]),
    ("malicious/legacy_torch_evil.pt", "pytorch-legacy", &[(Critical, "pickle-code-execution", Some("os.system"), None)]),
    ("malicious/legacy_torch_tar.tar", "pytorch-legacy-tar", &[(Critical, "pickle-code-execution", Some("os.system"), Some("pickle"))]),
    ("malicious/mailcap_findmatch.pkl", "pickle", &[(Critical, "pickle-code-execution", Some("mailcap.findmatch"), None)]),
    ("malicious/methodcaller_posixpath_os.pkl", "pickle", &[(Critical, "pickle-code-execution", Some("posixpath.os.system"), None), (High, "pickle-dangerous-global", Some("operator.methodcaller"), None), (High, "pickle-dangerous-global", Some("posixpath.os"), None)]),
    ("malicious/module_mutation.pkl", "pickle", &[(High, "pickle-module-mutation", Some("collections.OrderedDict"), None)]),
    ("malicious/nested_dill_loads.pkl", "pickle", &[(High, "pickle-dangerous-global", Some("dill.loads"), None)]),
    ("malicious/nested_loads_base64.pkl", "pickle", &[(Critical, "pickle-code-execution", Some("os.system"), Some("bytes@70")), (High, "pickle-dangerous-global", Some("pickle.loads"), None), (Medium, "pickle-unknown-global", Some("base64.b64decode"), None)]),
    ("malicious/nested_loads_codecs.pkl", "pickle", &[(Critical, "pickle-code-execution", Some("os.system"), Some("bytes@85")), (High, "pickle-dangerous-global", Some("pickle.loads"), None)]),
    ("malicious/nested_loads_hex.pkl", "pickle", &[(Critical, "pickle-code-execution", Some("os.system"), Some("bytes@90")), (High, "pickle-dangerous-global", Some("pickle.loads"), None), (Medium, "pickle-unknown-global", Some("builtins.bytes.fromhex"), None)]),
    ("malicious/nested_pickle_loads.pkl", "pickle", &[(Critical, "pickle-code-execution", Some("os.system"), Some("bytes@33")), (High, "pickle-dangerous-global", Some("_pickle.loads"), None)]),
    ("malicious/nested_zip.zip", "zip", &[(Critical, "pickle-code-execution", Some("os.system"), Some("models/inner.pt!archive/data.pkl"))]),
    ("malicious/numpy_builtins_dict_get.pkl", "pickle", &[(Critical, "pickle-code-execution", Some("numpy.__builtins__.exec"), None), (High, "pickle-dangerous-global", Some("numpy.__builtins__"), None), (Medium, "pickle-unknown-global", Some("builtins.dict.get"), None)]),
    ("malicious/obj_p1.pkl", "pickle", &[(Critical, "pickle-code-execution", Some("os.system"), None)]),
    ("malicious/object_array.npy", "npy", &[(Critical, "pickle-code-execution", Some("posix.system"), None), (Low, "numpy-object-array", None, None)]),
    ("malicious/object_array.npz", "npz", &[(Critical, "pickle-code-execution", Some("posix.system"), Some("evil.npy")), (Low, "numpy-object-array", None, Some("evil.npy"))]),
    ("malicious/object_array_compressed.npz", "npz", &[(Critical, "pickle-code-execution", Some("posix.system"), Some("evil.npy")), (Low, "numpy-object-array", None, Some("evil.npy"))]),
    ("malicious/onnx_custom_domain.onnx", "onnx", &[(Medium, "onnx-unknown-domain", None, None)]),
    ("malicious/onnx_external_escape.onnx", "onnx", &[(High, "onnx-external-data-escape", None, None)]),
    ("malicious/onnx_external_url.onnx", "onnx", &[(High, "onnx-external-data-escape", None, None)]),
    ("malicious/onnx_with_appended_keras.keras", "zip", &[(Critical, "keras-lambda", None, Some("config.json")), (Medium, "archive-hidden-member", None, None), (Medium, "archive-hidden-member", None, None)]),
    ("malicious/os_system_p0.pkl", "pickle", &[(Critical, "pickle-code-execution", Some("os.system"), None)]),
    ("malicious/posix_system_reduce.pkl", "pickle", &[(Critical, "pickle-code-execution", Some("posix.system"), None)]),
    ("malicious/stack_global_memo.pkl", "pickle", &[(Critical, "pickle-code-execution", Some("os.system"), None)]),
    ("malicious/sys_modules_getitem.pkl", "pickle", &[(Critical, "pickle-code-execution", Some("os.system"), None), (High, "pickle-dangerous-global", Some("builtins.getattr"), None), (High, "pickle-dangerous-global", Some("sys.modules"), None), (High, "pickle-dangerous-global", Some("os"), None), (Medium, "pickle-unknown-global", Some("operator.getitem"), None)]),
    ("malicious/torch_evil_data.pt", "pytorch-zip", &[(Critical, "pickle-code-execution", Some("os.system"), Some("archive/data.pkl"))]),
    ("malicious/torch_pickle_in_storage.pt", "pytorch-zip", &[(Critical, "pickle-code-execution", Some("os.system"), Some("archive/data/0")), (Medium, "archive-hidden-member", None, Some("archive/data/0"))]),
    ("malicious/torch_renamed_member.pt", "pytorch-zip", &[(Critical, "pickle-code-execution", Some("subprocess.check_output"), Some("archive/code/__init__.bin"))]),
    ("malicious/unknown_global.pkl", "pickle", &[(Medium, "pickle-unknown-global", Some("__main__.Payload"), None)]),
    ("malicious/yaml_unsafe_load.pkl", "pickle", &[(Critical, "pickle-code-execution", Some("yaml.unsafe_load"), None), (High, "pickle-dangerous-global", Some("yaml.unsafe_load"), None)]),
    ("malicious/zip_bad_crc.pt", "pytorch-zip", &[(Critical, "pickle-code-execution", Some("os.system"), Some("archive/data.pkl")), (Medium, "archive-crc-mismatch", None, Some("archive/data.pkl"))]),
    ("malicious/zip_hidden_local_entry.pt", "pytorch-zip", &[(Critical, "pickle-code-execution", Some("os.system"), Some("archive/hidden.pkl")), (Medium, "archive-hidden-member", None, Some("archive/hidden.pkl"))]),
    ("malicious/zip_local_name_mismatch.pt", "pytorch-zip", &[(Critical, "pickle-code-execution", Some("os.system"), Some("archive/data.pkl")), (Medium, "archive-hidden-member", None, Some("archive/data.pkl"))]),
];

fn data() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

#[test]
fn corpus_findings_are_exact() {
    let scanner = Scanner::new(Limits::default(), Policy::new());
    let outcome = scanner.scan_paths(&[data()]);
    assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
    let mut failures = Vec::new();
    assert_eq!(
        outcome.reports.len(),
        CORPUS.len(),
        "corpus and expectations differ in size"
    );
    for (report, (path, format, want)) in outcome.reports.iter().zip(CORPUS) {
        let rel = report
            .path
            .strip_prefix(data())
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let got: Vec<(Severity, &str, Option<&str>, Option<&str>)> = report
            .findings
            .iter()
            .map(|f| {
                (
                    f.severity,
                    f.rule.id(),
                    f.global.as_deref(),
                    f.member.as_deref(),
                )
            })
            .collect();
        if rel != *path || report.format != *format || got.as_slice() != *want {
            failures.push(format!(
                "{rel} ({}): got {got:?}\n  want {path} ({format}): {want:?}",
                report.format
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_bars_hold_on_the_corpus() {
    let scanner = Scanner::new(Limits::default(), Policy::new());
    let outcome = scanner.scan_paths(&[data()]);
    for r in &outcome.reports {
        let rel = r
            .path
            .strip_prefix(data())
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let max = r.max_severity();
        if rel.starts_with("benign/") {
            assert!(
                max.is_none_or(|s| s < Medium),
                "benign {rel} flagged: {:?}",
                r.findings
            );
        } else if rel.starts_with("malicious/") {
            assert!(max.is_some_and(|s| s >= Medium), "malicious {rel} missed");
        }
    }
}

fn small_limits() -> Limits {
    let mut l = Limits::default();
    l.max_decompressed = 8 << 20;
    l
}

#[test]
fn zip_bomb_hits_the_memory_limit() {
    let scanner = Scanner::new(small_limits(), Policy::new());
    let r = scanner
        .scan_file(&data().join("malformed/zip_bomb.zip"))
        .unwrap();
    assert_eq!(r.findings.len(), 1, "{:?}", r.findings);
    assert_eq!(r.findings[0].rule, Rule::ResourceLimit);
    assert_eq!(r.findings[0].severity, Medium);
    assert_eq!(r.findings[0].member.as_deref(), Some("bomb.bin"));
    assert!(r.error.is_some());
}

#[test]
fn gzip_bomb_hits_the_decompression_limit() {
    let scanner = Scanner::new(small_limits(), Policy::new());
    let r = scanner
        .scan_file(&data().join("malformed/gzip_bomb.pkl.gz"))
        .unwrap();
    assert_eq!(r.findings.len(), 1, "{:?}", r.findings);
    assert_eq!(r.findings[0].rule, Rule::ResourceLimit);
}

#[test]
fn policy_allows_a_reviewed_global_and_says_so() {
    let mut policy = Policy::new();
    policy
        .load_str(
            "[[allow]]\nglobal = \"mypkg.*\"\nreason = \"our own layers, reviewed\"\n",
            "team.toml",
        )
        .unwrap();
    policy.allow("__main__.Payload").unwrap();
    let scanner = Scanner::new(Limits::default(), policy);
    let r = scanner
        .scan_file(&data().join("malicious/globals/mypkg.layers.Block.pkl"))
        .unwrap();
    assert_eq!(r.findings.len(), 1);
    assert_eq!(r.findings[0].severity, Low);
    assert_eq!(r.findings[0].rule, Rule::PolicyAllowed);
    assert!(
        r.findings[0]
            .message
            .contains("policy team.toml: mypkg.* (our own layers, reviewed)"),
        "{}",
        r.findings[0].message
    );
    let r = scanner
        .scan_file(&data().join("malicious/unknown_global.pkl"))
        .unwrap();
    assert!(
        r.findings[0].message.contains("--allow __main__.Payload"),
        "{}",
        r.findings[0].message
    );
    // A policy never hides what it does not name.
    let r = scanner
        .scan_file(&data().join("malicious/os_system_p0.pkl"))
        .unwrap();
    assert_eq!(r.max_severity(), Some(Critical));
}

#[test]
fn bad_policies_are_rejected() {
    let mut p = Policy::new();
    assert!(
        p.load_str("[[allow]]\nglobal = \"x.y\"\n", "p.toml")
            .is_err(),
        "reason is required"
    );
    assert!(p
        .load_str("[[allow]]\nglobal = \"x y\"\nreason = \"r\"\n", "p.toml")
        .is_err());
    assert!(p.allow("os.*.x").is_err());
}

#[test]
fn high_severity_names_are_resolved_through_every_route() {
    let scanner = Scanner::new(Limits::default(), Policy::new());
    for f in [
        "stack_global_memo.pkl",
        "inst_p0.pkl",
        "obj_p1.pkl",
        "ext_registered.pkl",
        "getattr_import_module.pkl",
        "concatenated.pkl",
    ] {
        let r = scanner
            .scan_file(&data().join("malicious").join(f))
            .unwrap();
        assert!(
            r.findings
                .iter()
                .any(|x| x.severity == Critical && x.global.as_deref() == Some("os.system")),
            "{f}: {:?}",
            r.findings
        );
    }
    let _ = High;
}

#[test]
fn large_deflated_members_are_streamed_not_unpacked() {
    // With a tiny memory limit every deflated member takes the streaming path.
    let mut limits = Limits::default();
    limits.max_in_memory = 1024;
    let scanner = Scanner::new(limits, Policy::new());
    let r = scanner
        .scan_file(&data().join("malicious/object_array_compressed.npz"))
        .unwrap();
    let got: Vec<_> = r
        .findings
        .iter()
        .map(|f| (f.severity, f.rule, f.global.as_deref(), f.member.as_deref()))
        .collect();
    assert_eq!(
        got,
        [
            (
                Critical,
                Rule::PickleCodeExecution,
                Some("posix.system"),
                Some("evil.npy")
            ),
            (Low, Rule::NumpyObjectArray, None, Some("evil.npy")),
        ]
    );
    let r = scanner
        .scan_file(&data().join("benign/arrays.npz"))
        .unwrap();
    assert!(r.findings.is_empty(), "{:?}", r.findings);
}
