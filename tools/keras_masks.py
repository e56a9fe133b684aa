"""The `mask=` arguments of a Keras 3 functional config, checked against what wgfit computes.

Keras records the mask it passed to each layer call as the operations it traced to compute it
(`Any(NotEqual(x, mask_value))` for a `Masking` layer, `NotEqual(ids, 0)` for an `Embedding`
with `mask_zero`, `ExpandDims` / `Concatenate` / `All` / `OnesLike` for the merges). wgfit
derives the same masks from its own layers, so such a mask is dropped from the converted model;
any other mask (one the user computed, `lstm(x, mask=ops.greater(x, 5))`) would silently change
what the model computes, and is refused naming the layer and the operation.
"""

# The operations Keras's own `compute_mask` methods trace, besides the `NotEqual` at the root.
COMBINING = {"Any", "All", "ExpandDims", "Concatenate", "LogicalAnd", "LogicalOr", "Squeeze",
             "Reshape", "Cast"}


def is_tensor(arg):
    return isinstance(arg, dict) and arg.get("class_name") == "__keras_tensor__"


def tensors(args):
    """The Keras tensors among a node's (nested) arguments, as (name, node, index)."""
    if isinstance(args, (list, tuple)):
        return [t for a in args for t in tensors(a)]
    if isinstance(args, dict) and not is_tensor(args):
        return [t for a in args.values() for t in tensors(a)]
    return [tuple(args["config"]["keras_history"])] if is_tensor(args) else []


def mask_roots(entries):
    """{(tensor, constant)} of the masks wgfit computes: a `Masking` layer's input against its
    `mask_value`, an `Embedding(mask_zero=True)`'s ids against 0."""
    roots = set()
    for e in entries.values():
        cls, cfg = e["class_name"], e.get("config", {})
        if cls == "Masking":
            value = float(cfg.get("mask_value", 0.0))
        elif cls == "Embedding" and cfg.get("mask_zero"):
            value = 0.0
        else:
            continue
        for node in e.get("inbound_nodes", []):
            for t in tensors(node.get("args", []))[:1]:
                roots.add((t, value))
    return roots


def check_mask(arg, where, entries, is_op, refused):
    """Raise `refused(message)` unless the mask tensor `arg` is one Keras derived from wgfit's
    own masking layers (see the module's text)."""
    roots = mask_roots(entries)
    seen = set()

    def walk(t):
        name = t[0]
        if name in seen:
            return
        seen.add(name)
        e = entries.get(name)
        if e is None or not is_op(e):
            raise refused(f"{where}: argument mask comes from '{name}', not from a Masking "
                          "layer or an Embedding with mask_zero; wgfit computes masks from "
                          "those layers only")
        cls = e["class_name"]
        for node in e.get("inbound_nodes", []):
            args = node.get("args", [])
            if cls == "NotEqual":
                ins = tensors(args)
                consts = [a for a in args if isinstance(a, (int, float))]
                if len(ins) != 1 or len(consts) != 1 or (ins[0], float(consts[0])) not in roots:
                    raise refused(f"{where}: argument mask = operation '{name}' compares a "
                                  "tensor that is no Masking layer's or mask_zero Embedding's "
                                  "input with that layer's value; wgfit does not take a mask "
                                  "of one's own")
            elif cls == "OnesLike":
                continue  # an all-true mask for a merge's unmasked input, as wgfit's
            elif cls in COMBINING:
                for u in tensors(args):
                    walk(u)
            else:
                raise refused(f"{where}: argument mask = operation '{name}' ({cls}) is not "
                              "one Keras uses to propagate masks; wgfit does not take a mask "
                              "of one's own")

    walk(tuple(arg["config"]["keras_history"]))
