"""Air-gapped bundles: everything an offline machine needs, in one verifiable folder.

A bundle is made on a connected machine and carried (USB stick) to one without a
network. Layout::

    manifest.json   every file with size and sha256, models, target, versions, date
    models/         the GGUF files
    wheels/         amalia-local and every dependency for the target platform/Python
    install.sh      venv + pip install --no-index --find-links wheels + amalia import .
    install.ps1     the same for Windows PowerShell
    LEIA-ME.txt     the offline steps in European Portuguese
    README.txt      the same in English

Modules, one concern each: :mod:`.manifest` (schema, sha256, safe relative paths),
:mod:`.wheelhouse` (pip in a subprocess), :mod:`.scripts` (install scripts and notes),
:mod:`.create`, :mod:`.verify`, :mod:`.importer`, :mod:`.preflight`. Errors are
typed (:mod:`.errors`) and carry catalogue keys, like the store's.

Nothing is imported here on purpose: ``install.sh`` runs :mod:`.preflight` straight
from the amalia-local wheel, before any dependency is installed, so importing this
package must not pull in the store, numpy or llama.cpp. Import the submodules.
"""
