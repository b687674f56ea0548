"""The ONNX export both example devices share: a one-hidden-layer MLP as standard ai.onnx
operators (MatMul, Add, Relu, Softmax), which tract, the pure-Rust runtime, runs.

Outputs: `probabilities` float32 [N, classes] and `hidden` float32 [N, H] (the ReLU layer, for
the guard's feature-space detectors). The export is checked against `reference` on `x`.
"""

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator


def export_mlp(w1, b1, w2, b2, graph_name, producer, x, reference, what):
    """Exports softmax(relu(input @ w1 + b1) @ w2 + b2) and checks that its probabilities on
    rows `x` agree with `reference(x)` (the trainer's own probabilities, named `what` in the
    error) to 1e-4."""
    w1, b1, w2, b2 = (np.asarray(a, dtype=np.float32) for a in (w1, b1, w2, b2))
    width, hidden = w1.shape
    classes = w2.shape[1]
    nodes = [
        helper.make_node("MatMul", ["input", "w1"], ["h_lin"]),
        helper.make_node("Add", ["h_lin", "b1"], ["h_pre"]),
        helper.make_node("Relu", ["h_pre"], ["hidden"]),
        helper.make_node("MatMul", ["hidden", "w2"], ["z_lin"]),
        helper.make_node("Add", ["z_lin", "b2"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1),
    ]
    graph = helper.make_graph(
        nodes,
        graph_name,
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", width])],
        [
            helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", classes]),
            helper.make_tensor_value_info("hidden", TensorProto.FLOAT, ["N", hidden]),
        ],
        initializer=[
            numpy_helper.from_array(w1, "w1"),
            numpy_helper.from_array(b1, "b1"),
            numpy_helper.from_array(w2, "w2"),
            numpy_helper.from_array(b2, "b2"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)],
                              producer_name=producer)
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    probs = ReferenceEvaluator(model).run(["probabilities"], {"input": x.astype(np.float32)})[0]
    err = float(np.abs(probs - reference(x)).max())
    assert err < 1e-4, f"ONNX export disagrees with {what} by {err}"
    return model, err
