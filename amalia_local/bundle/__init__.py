"""Air-gapped bundles: everything an offline machine needs, in one verifiable folder.

A bundle is made on a connected machine and carried (USB stick) to one without a
network. Layout::

    manifest.json   every file with size and sha256, models, target, versions, date
    models/         the GGUF files
    wheels/         amalia-local and every dependency for the target platform/Python
    install.py      the installation (bundle.installer, run from the bundle's own wheel)
    install.sh      finds Python and runs install.py; install.ps1, install.cmd on Windows
    LEIA-ME.txt     the offline steps in European Portuguese
    README.txt      the same in English

Modules, one concern each: :mod:`.manifest` (schema, sha256, safe relative paths),
:mod:`.wheelhouse` (pip in a subprocess), :mod:`.scripts` (install scripts and notes),
:mod:`.create`, :mod:`.verify`, :mod:`.importer`, :mod:`.installer`,
:mod:`.windows_build` (llama.cpp for Windows, cross-compiled). Errors are
typed (:mod:`.errors`) and carry catalogue keys, like the store's.

Nothing is imported here on purpose: ``install.py`` runs :mod:`.installer` straight
from the amalia-local wheel, before any dependency is installed, so importing this
package must not pull in the store, numpy or llama.cpp. Import the submodules.
"""
