//! Walking OCI image layouts and archives: blobs hashed once and streamed, indexes walked
//! cycle-safe, layers read with bounded decompression.
//!
//! Status: the crate is empty until the image validators land (issue 3); it defines no checks.
