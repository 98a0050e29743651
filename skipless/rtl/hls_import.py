"""Read a converted hls4ml ModelGraph into a :class:`~skipless.rtl.graph.Network`.

hls4ml has already derived every fixed-point type (``bit_exact=True``) and inserted explicit
zero-padding layers and clone (fork) layers for streams read twice. Each layer goes to the registered
importer of its hls4ml class (:data:`skipless.rtl.ops.IMPORTERS`); a layer without one is refused,
naming it and what is supported.
"""

from __future__ import annotations

from skipless.errors import SkiplessError
from skipless.rtl.graph import Network
from skipless.rtl.ops import IMPORTERS, ImportContext, supported_layers


def from_hls4ml(graph, name: str = "myproject") -> Network:
    """Read a converted hls4ml ModelGraph (io_stream, bit_exact types) into a Network."""
    io_type = graph.config.get_config_value("IOType")
    if io_type != "io_stream":
        raise SkiplessError(f"the open RTL is a streaming design and reads hls4ml's io_stream graphs, not {io_type}: "
                            f"convert with io_type='io_stream' (C-simulation of {io_type} works as it is)")
    nodes = []
    ctx = ImportContext()
    layers = list(graph.get_layers())
    readers = {}
    for layer in layers:
        for stream in layer.inputs:
            readers.setdefault(stream, []).append(layer)
    for layer in layers:
        after = readers.get(layer.outputs[0], []) if layer.outputs else []
        if len(after) == 1 and "Activation" in after[0].class_name and after[0].name.startswith(layer.name + "_"):
            ctx.split_activations.add(layer.name)
    for layer in layers:
        importer = IMPORTERS.get(layer.class_name)
        if importer is None:
            raise SkiplessError(
                f"layer {layer.name} ({layer.class_name}) is not supported by the open RTL generator; it supports "
                f"the hls4ml layers {supported_layers()}"
            )
        node = importer.from_hls4ml(layer, ctx)
        if node is None:
            continue
        nodes.append(node)
        for out in node.outputs:
            ctx.shapes[out] = node.shape
    for node in nodes:
        for stream in node.inputs:
            if stream in ctx.flattened:
                raise SkiplessError(f"layer {node.name} reads a Flatten/Reshape output; the open RTL supports a Flatten only "
                                    f"when a Dense reads it")
    if graph.outputs[0] in ctx.flattened:
        raise SkiplessError("the network ends in a Flatten/Reshape, which the open RTL supports only when a Dense reads it")
    in_vars, out_vars = graph.get_input_variables(), graph.get_output_variables()
    if len(in_vars) != 1 or len(out_vars) != 1:
        raise SkiplessError("the open RTL supports networks with one input and one output")
    return Network(name, nodes, nodes[0].outputs[0], graph.outputs[0], in_vars[0].name, out_vars[0].name)
