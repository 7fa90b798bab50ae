//! The shared test data (`$CANDOR_SHARED`, else `../shared`): a skip with one line outside CI,
//! a failure under `CI=true` (see `candor_data::shared_test_data`).

use std::path::PathBuf;

pub fn shared() -> Option<PathBuf> {
    candor_data::shared_test_data("fixtures")
}
