//! Scanning the blob files of a layout, in parallel.
//!
//! [`scan_files`] hands each blob to [`crate::blob::scan_blob`] on a rayon pool that spans all
//! cores, largest blobs first so that one big layer does not start last and run alone. Each
//! worker reads its file in chunks of [`ScanOptions::read_buffer`] bytes (1 MiB by default),
//! once, front to back.
//!
//! Blobs are opened with `O_NOFOLLOW | O_NONBLOCK` and then checked with `fstat` on the open
//! descriptor, so there is no window between the check and the read: a symlink is refused
//! ([`ScanError::NotRegularFile`] with kind `symbolic link`), and a FIFO is refused without
//! blocking on it. `O_NOFOLLOW` only concerns the last path component; whether the
//! directories leading to a blob may be symlinks is the layout walker's decision.

use crate::blob::{scan_blob_with_buffer, BlobScan, Limits, DEFAULT_READ_BUFFER};
use crate::digest::Algorithm;
use crate::error::ScanError;
use rayon::prelude::*;
use std::fs::File;
use std::path::{Path, PathBuf};

/// How blob files are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanOptions {
    /// Bytes per read of a blob file (and input buffer of the decompressors). Default 1 MiB.
    pub read_buffer: usize,
    /// Worker threads; 0 means one per core (rayon's global pool).
    pub threads: usize,
}

impl Default for ScanOptions {
    fn default() -> ScanOptions {
        ScanOptions {
            read_buffer: DEFAULT_READ_BUFFER,
            threads: 0,
        }
    }
}

/// Opens a blob file for reading, refusing anything but a regular file (symlinks included).
pub fn open_blob(path: &Path) -> Result<File, ScanError> {
    let file = open_nofollow(path).map_err(|source| {
        if is_symlink_refusal(&source, path) {
            ScanError::NotRegularFile {
                path: path.to_path_buf(),
                kind: "symbolic link",
            }
        } else {
            ScanError::Open {
                path: path.to_path_buf(),
                source,
            }
        }
    })?;
    let meta = file.metadata().map_err(|source| ScanError::Open {
        path: path.to_path_buf(),
        source,
    })?;
    if !meta.is_file() {
        return Err(ScanError::NotRegularFile {
            path: path.to_path_buf(),
            kind: describe(&meta.file_type()),
        });
    }
    Ok(file)
}

#[cfg(unix)]
fn open_nofollow(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
}

#[cfg(not(unix))]
fn open_nofollow(path: &Path) -> std::io::Result<File> {
    // Best effort where O_NOFOLLOW does not exist: refuse a symlink seen just before opening.
    if std::fs::symlink_metadata(path)?.file_type().is_symlink() {
        return Err(std::io::Error::other("symbolic link"));
    }
    File::open(path)
}

#[cfg(unix)]
fn is_symlink_refusal(e: &std::io::Error, path: &Path) -> bool {
    e.raw_os_error() == Some(libc::ELOOP)
        && std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
}

#[cfg(not(unix))]
fn is_symlink_refusal(_e: &std::io::Error, path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
}

fn describe(ft: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if ft.is_fifo() {
            return "FIFO";
        }
        if ft.is_socket() {
            return "socket";
        }
        if ft.is_block_device() {
            return "block device";
        }
        if ft.is_char_device() {
            return "character device";
        }
    }
    if ft.is_dir() {
        "directory"
    } else if ft.is_symlink() {
        "symbolic link"
    } else {
        "special file"
    }
}

/// Scans one blob file.
pub fn scan_file(
    path: &Path,
    expected_algorithm: Algorithm,
    limits: &Limits,
    options: &ScanOptions,
) -> Result<BlobScan, ScanError> {
    let file = open_blob(path)?;
    scan_blob_with_buffer(file, expected_algorithm, limits, options.read_buffer)
}

/// Scans blob files in parallel on all cores with the default options; results come back
/// in the order of `paths`.
pub fn scan_files(
    paths: Vec<(PathBuf, Algorithm)>,
    limits: &Limits,
) -> Vec<(PathBuf, Result<BlobScan, ScanError>)> {
    scan_files_with(paths, limits, &ScanOptions::default())
}

/// Scans blob files in parallel; results come back in the order of `paths`.
pub fn scan_files_with(
    paths: Vec<(PathBuf, Algorithm)>,
    limits: &Limits,
    options: &ScanOptions,
) -> Vec<(PathBuf, Result<BlobScan, ScanError>)> {
    // Largest first (longest-processing-time scheduling); sizes from lstat, 0 if unknown.
    let mut jobs: Vec<(usize, PathBuf, Algorithm, u64)> = paths
        .into_iter()
        .enumerate()
        .map(|(i, (p, a))| {
            let size = std::fs::symlink_metadata(&p).map(|m| m.len()).unwrap_or(0);
            (i, p, a, size)
        })
        .collect();
    jobs.sort_by(|a, b| b.3.cmp(&a.3).then(a.0.cmp(&b.0)));

    let run = || -> Vec<(usize, PathBuf, Result<BlobScan, ScanError>)> {
        jobs.into_par_iter()
            .with_max_len(1)
            .map(|(i, p, a, _)| {
                let r = scan_file(&p, a, limits, options);
                (i, p, r)
            })
            .collect()
    };
    let pool = (options.threads > 0)
        .then(|| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(options.threads)
                .build()
                .ok()
        })
        .flatten();
    let mut done = match pool {
        Some(pool) => pool.install(run),
        None => run(),
    };
    done.sort_by_key(|(i, _, _)| *i);
    done.into_iter().map(|(_, p, r)| (p, r)).collect()
}
