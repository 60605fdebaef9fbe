//! The state of one network on this node: `dataDir/<network>/addresses-ipv4.json` (and
//! `-ipv6.json` on a dual-stack node), each a `NodeAddresses` snapshot, guarded by an exclusive
//! `flock` on `dataDir/<network>/lock` — the lock file host-local uses, so parallel pod starts
//! (each a separate process) read, assign and write one at a time.
//!
//! A write goes to a temporary file that is synced and renamed over the state file, so a crash
//! leaves the old state or the new one, never half of one. The lock is released when the
//! [`Locked`] guard (its open file) is dropped, or by the kernel if the process dies.

use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use ultrak8s_netalloc::cidr::Family;
use ultrak8s_netalloc::prefix::NodeAddressesSnapshot;

use super::{CniError, Code};

/// The state directory of one network.
#[derive(Clone, Debug)]
pub struct Store {
    dir: PathBuf,
}

/// The state directory, locked.
#[derive(Debug)]
pub struct Locked<'a> {
    store: &'a Store,
    _lock: File,
}

fn io_error(what: String, e: std::io::Error) -> CniError {
    CniError::new(Code::Io, what, e.to_string())
}

fn family_name(family: Family) -> &'static str {
    match family {
        Family::V4 => "ipv4",
        Family::V6 => "ipv6",
    }
}

impl Store {
    /// The store of network `network` under `data_dir` (the name was validated: no '/').
    pub fn new(data_dir: &Path, network: &str) -> Store {
        Store {
            dir: data_dir.join(network),
        }
    }

    /// The state file of one address family.
    pub fn path(&self, family: Family) -> PathBuf {
        self.dir
            .join(format!("addresses-{}.json", family_name(family)))
    }

    /// Creates the directory if need be and takes the exclusive lock, waiting for it.
    pub fn lock(&self) -> Result<Locked<'_>, CniError> {
        std::fs::create_dir_all(&self.dir)
            .map_err(|e| io_error(format!("creating {}", self.dir.display()), e))?;
        let path = self.dir.join("lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| io_error(format!("opening {}", path.display()), e))?;
        file.lock()
            .map_err(|e| io_error(format!("locking {}", path.display()), e))?;
        Ok(Locked {
            store: self,
            _lock: file,
        })
    }
}

impl Locked<'_> {
    /// The snapshot of `family`, or `None` if there is no state file yet.
    pub fn load(&self, family: Family) -> Result<Option<NodeAddressesSnapshot>, CniError> {
        let path = self.store.path(family);
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_error(format!("reading {}", path.display()), e)),
        };
        serde_json::from_slice(&bytes).map(Some).map_err(|e| {
            CniError::new(
                Code::CorruptState,
                format!("the state file {} is not valid", path.display()),
                e.to_string(),
            )
        })
    }

    /// Replaces the state file of `family` (write, sync, rename).
    pub fn save(&self, family: Family, snapshot: &NodeAddressesSnapshot) -> Result<(), CniError> {
        let path = self.store.path(family);
        let tmp = path.with_extension("json.tmp");
        let write = || -> std::io::Result<()> {
            let mut file = File::create(&tmp)?;
            serde_json::to_writer_pretty(&mut file, snapshot)?;
            file.write_all(b"\n")?;
            file.sync_all()?;
            std::fs::rename(&tmp, &path)
        };
        write().map_err(|e| io_error(format!("writing {}", path.display()), e))
    }
}
