"""imgedge against sharp, side by side, on one machine: ``python -m bench.vs_sharp``.

Not a test: a measurement, run by hand (``--help`` for its options). It installs what it
needs into a scratch folder (default ``.imgedge/bench``, git-ignored) the first time only:
sharp with npm (its npm packages ship libvips), and numpy with pip for the SSIM (numpy is
not a dependency of imgedge; nothing else imports it).

- ``cases``: the five benchmark cases (docs/performance.md), as an imgedge request and
  as a sharp pipeline.
- ``workers``: one long-lived worker process per side (``imgedge_worker``, and
  ``sharp_worker.mjs`` under node), pinned to the same single CPU, one thread each.
- ``ssim``: SSIM against a reference resize (``reference``).
- ``vs_sharp``: interleaves the rounds, reads peak RSS, prints the table, writes JSON.
"""
