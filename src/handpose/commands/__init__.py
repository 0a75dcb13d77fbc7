"""One module per ``handpose`` subcommand.

Each module's docstring is its ``--help`` text; it defines ``add_arguments(parser)`` and ``run(args) -> int``.
Modules import only the standard library at top level, so ``handpose --help`` stays fast; heavy imports
(torch, cv2, onnxruntime) happen inside ``run``.
"""
