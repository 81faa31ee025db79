//! Files the user names with a flag or variable (a token file, a CA bundle, the
//! checks file): read whole, or a usage error that names the file, where its name
//! came from, and what to do.

use std::io;
use std::path::Path;

use crate::error::Error;

/// Reads `path` with `read` (`fs::read`, `fs::read_to_string`). The error reads
/// `cannot read {what} {path} {from}: {reason}`, e.g. `cannot read the CA file
/// ca.pem from --ca-file/STATUS_CHECK_CA_FILE: …`, with `hint`.
pub(crate) fn read<T>(
    path: &Path,
    what: &str,
    from: &str,
    hint: &str,
    read: impl FnOnce(&Path) -> io::Result<T>,
) -> Result<T, Error> {
    read(path).map_err(|e| {
        Error::usage(format!("cannot read {what} {} {from}: {e}", path.display())).hint(hint)
    })
}
