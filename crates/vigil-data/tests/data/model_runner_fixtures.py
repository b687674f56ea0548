"""Makes the regression models of the backdoor screen's model runner (needs onnx):

* reshape_to_one_row.onnx: input "x" [N, 3] (float), reshaped to the constant [1, 3], then Relu
  as output "hidden". For a batch other than one row the reshape cannot hold, and tract 0.21
  reaches a todo!() compiling it: an error, not a crash.
* batch_of_1e8.onnx: input "x" declared [100000000, 3], Relu as output "hidden": a fixed batch
  the screen refuses rather than allocate.
* wide_output.onnx: input "x" [N, 3], tiled 1667 times as output "hidden" [N, 5001]: wider than
  the screen's covariance takes.
* log_of_input.onnx: input "x" [N, 3], Log as output "hidden": finite for positive features,
  -inf for the zero rows that pad a batch (which are not data).

Run: python model_runner_fixtures.py"""
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def save(graph, name):
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)],
                              producer_name="vigil-test")
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, name + ".onnx")


graph = helper.make_graph(
    [helper.make_node("Reshape", ["x", "shape"], ["r"]),
     helper.make_node("Relu", ["r"], ["hidden"])],
    "reshape_to_one_row",
    [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3])],
    [helper.make_tensor_value_info("hidden", TensorProto.FLOAT, [1, 3])],
    [numpy_helper.from_array(np.array([1, 3], dtype=np.int64), "shape")])
save(graph, "reshape_to_one_row")

graph = helper.make_graph(
    [helper.make_node("Relu", ["x"], ["hidden"])],
    "batch_of_1e8",
    [helper.make_tensor_value_info("x", TensorProto.FLOAT, [100000000, 3])],
    [helper.make_tensor_value_info("hidden", TensorProto.FLOAT, [100000000, 3])])
save(graph, "batch_of_1e8")

graph = helper.make_graph(
    [helper.make_node("Tile", ["x", "repeats"], ["hidden"])],
    "wide_output",
    [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3])],
    [helper.make_tensor_value_info("hidden", TensorProto.FLOAT, ["N", 5001])],
    [numpy_helper.from_array(np.array([1, 1667], dtype=np.int64), "repeats")])
save(graph, "wide_output")

graph = helper.make_graph(
    [helper.make_node("Log", ["x"], ["hidden"])],
    "log_of_input",
    [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3])],
    [helper.make_tensor_value_info("hidden", TensorProto.FLOAT, ["N", 3])])
save(graph, "log_of_input")
