"""One module per ``handpose`` subcommand.

Each module's docstring is its ``--help`` text; it defines ``add_arguments(parser)`` and ``run(args) -> int``.
``handpose --help`` reads each module's summary from its source and a run imports only the command it names
(``cli.build_parser``), so one command's dependencies (torch, cv2, onnxruntime) load only when it runs; the
lighter commands (demo, synth, train, export, convert) keep them inside ``run``, so their ``--help`` is quick.
"""
