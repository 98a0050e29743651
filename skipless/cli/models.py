"""``skipless models list|show|activations`` and ``skipless data info``."""

from __future__ import annotations

from collections import Counter

from skipless.cli.common import add_parser, emit_json, int_at_least


def cmd_models_list(args) -> int:
    from skipless import zoo

    if args.trained:
        rows = []
        for artifact_id in zoo.trained_artifacts():
            card = zoo.read_card(artifact_id)
            rows.append({"id": artifact_id, "dataset": card.get("dataset"), "method": card.get("training", {}).get("method"),
                         "test_accuracy": card.get("metrics", {}).get("test_accuracy")})
        if args.json:
            emit_json(rows)
            return 0
        if not rows:
            print(f"no trained artifacts in {zoo.models_folder()}")
        for r in rows:
            acc = f"{100 * r['test_accuracy']:.2f}%" if r["test_accuracy"] is not None else "-"
            print(f"{r['id']:32s} {r['dataset'] or '?':14s} test accuracy {acc}")
        return 0
    grid = zoo.variant_grid()
    if args.json:
        emit_json([str(v) for v in grid])
        return 0
    print(f"{len(grid)} variants: r{{depth}}-{{skip}}-{{quant}}")
    print(f"  depths: {', '.join(str(d) for d in sorted({v.depth for v in grid}))}")
    print(f"  skips:  {', '.join(f'{t} ({m})' for t, m in zoo.SKIP_TOKENS.items())}")
    print(f"  quants: {', '.join(zoo.GRID_QUANTS)} (and q<bits>i<int>, e.g. q8i3)")
    for v in grid:
        print(f"  {v}")
    return 0


def describe_model(variant_or_artifact: str) -> dict:
    """Summary of a variant (built with random weights) or of a trained artifact."""
    from skipless import zoo
    from skipless.resnet import count_adds, count_macs

    vid = zoo.parse_id(variant_or_artifact)
    if vid.method:
        model, card = zoo.load_hardware_model(variant_or_artifact)
        arch = zoo.card_arch(card)
    else:
        arch, card = vid.arch(), None
        model = arch.build(folded=True)
    kinds = Counter(type(layer).__name__ for layer in model.layers)
    return {
        "id": variant_or_artifact,
        "depth": arch.depth,
        "skip_modes": Counter(arch.skip_modes),
        "quant": arch.quant,
        "input_shape": arch.input_shape,
        "skip_additions": count_adds(model),
        "parameters": model.count_params(),
        "macs": count_macs(model),
        "layers": kinds,
        "card": card,
        "model": model,
    }


def cmd_models_show(args) -> int:
    info = describe_model(args.id)
    model = info["model"]
    if args.json:
        out = {k: v for k, v in info.items() if k != "model"}
        out["layer_list"] = [{"name": layer.name, "class": type(layer).__name__, "shape": list(layer.output.shape[1:])}
                             for layer in model.layers]
        emit_json(out)
        return 0
    print(f"{info['id']}: ResNet-{info['depth']}, quant {info['quant']}, input {info['input_shape']}")
    print(f"  blocks:         {dict(info['skip_modes'])}")
    print(f"  skip additions: {info['skip_additions']}")
    print(f"  parameters:     {info['parameters']:,}")
    print(f"  MACs/image:     {info['macs']:,}")
    print(f"  layers:         {len(model.layers)} ({', '.join(f'{k} {v}' for k, v in sorted(info['layers'].items()))})")
    if info["card"]:
        card = info["card"]
        print(f"  trained on {card.get('dataset')} with {card.get('training', {}).get('method')}: {card.get('metrics')}")
    if args.layers:
        for layer in model.layers:
            print(f"    {layer.name:24s} {type(layer).__name__:18s} {tuple(layer.output.shape[1:])}")
    return 0


def cmd_models_activations(args) -> int:
    import numpy as np

    from skipless import data, zoo
    from skipless.train.health import first_constant_layer, layer_health, layer_outputs

    ds = data.load(args.dataset, args.data_dir)
    model = zoo.hardware_model(args.id, ds)
    x = ds.normalize(ds.x_test[: args.n])
    outs = layer_outputs(model, x)
    rows = layer_health(model, x, outs)
    dead = first_constant_layer(rows)
    classes = np.bincount(outs[model.output_names[0]].argmax(axis=-1), minlength=len(ds.classes))
    if args.json:
        emit_json({"id": args.id, "images": len(x), "layers": [vars(r) for r in rows],
                   "first_constant_layer": dead.name if dead else None, "predicted_classes": classes.tolist()})
    else:
        print(f"{args.id}: hardware model on the first {len(x)} {ds.name} test images")
        for r in rows:
            print(f"  {r.text()}")
        print(f"  predicted classes: {classes.tolist()}")
        print(f"  COLLAPSED: from {dead.name} on, every image gives the same output" if dead
              else "  every layer's output depends on the image")
    return 1 if dead else 0


def cmd_data_info(args) -> int:
    import numpy as np

    from skipless import data

    ds = data.load(args.dataset, args.data_dir)
    print(f"{ds.name} from {ds.source}")
    print(f"  train: {ds.x_train.shape} {ds.x_train.dtype}, test: {ds.x_test.shape}")
    print(f"  classes: {', '.join(ds.classes)}")
    counts = np.bincount(ds.y_train, minlength=len(ds.classes))
    print(f"  train images per class: {counts.min()}..{counts.max()}")
    print(f"  augmentation: random crop (4-pixel padding){', horizontal flip' if ds.flip else ''}")
    return 0


def register(sub) -> None:
    models = add_parser(sub, "models", "the variant grid and trained artifacts")
    msub = models.add_subparsers(dest="models_command", required=True)
    p = add_parser(msub, "list", "list the variant grid (or --trained artifacts)")
    p.add_argument("--trained", action="store_true", help="list the trained artifacts in models/")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_models_list)
    p = add_parser(msub, "show", "layers, skip additions, parameters and MACs of a variant or artifact")
    p.add_argument("id", help="variant id (r20-skip-w8a8) or trained artifact (r20-noskip-w8a8.iter-kept)")
    p.add_argument("--layers", action="store_true", help="print every layer with its output shape")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_models_show)
    p = add_parser(msub, "activations", "is a trained model alive? per layer: zeros, distinct values, and whether the "
                   "output still depends on the image; exit 1 when a layer gives the same output for every image")
    p.add_argument("id", help="trained artifact (r20-noskip-w4a4.iter-kept) or variant id")
    p.add_argument("--n", type=int_at_least(2), default=256, help="test images (at least 2: whether an output depends on the image needs two)")
    p.add_argument("--dataset", default="fashion_mnist", choices=("fashion_mnist", "cifar10"))
    p.add_argument("--data-dir")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_models_activations)

    dgroup = add_parser(sub, "data", "datasets")
    dsub = dgroup.add_subparsers(dest="data_command", required=True)
    p = add_parser(dsub, "info", "where a dataset is read from and what it holds")
    p.add_argument("dataset", choices=("fashion_mnist", "cifar10"))
    p.add_argument("--data-dir")
    p.set_defaults(func=cmd_data_info)
