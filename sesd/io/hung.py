"""How long sesd waits for a read of a file before taking it as on a hung mount.

From a disk that answers, a read of the config, the files it names, the certificate
and key or the state file takes well under a second (1.1 s for a state file with the
pending table full); from a share that stopped answering (an NFS mount hard-mounted,
a volume gone), for ever. Each read that may meet one is waited for READ_BOUND at
most: the start's, each reload's and each command's read of the config and the files
it names, the port's load of the certificate and key, the state file's lock and read.

Kept here, below the config and the runtime, so that every layer that reads a file
takes the one bound; read as ``hung.READ_BOUND`` when waited on (not copied at import)
so that a test that needs a short bound sets it here, for every read alike.
"""

from __future__ import annotations

from typing import Final

__all__ = ["READ_BOUND"]

#: In seconds. Within the shipped unit's TimeoutStartSec (90 s), which bounds a start
#: and each reload command alike and ends sesd without a word of why: past this bound,
#: sesd says which file did not answer first.
READ_BOUND: Final = 30.0
