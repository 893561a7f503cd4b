"""The model: its sources (`spec`, `download`), the two networks (`lite`, `hub`), the runtimes that run the transfer
network (TensorFlow in `stylizer`, `openvino_runtime`, `torch_runtime`) and their measured choice; `loading` puts
them together (`load_model`).

Nothing is imported here, so `torch_runtime` imports without TensorFlow."""
