//! `iomt-sensor inventory [--json]`: the device inventory from the state store.

use crate::run::InputError;
use iomt_models::store::Store;
use std::io::Write;
use std::path::Path;

pub fn run(state: &Path, json: bool) -> anyhow::Result<()> {
    if !state.join("iomt.db").exists() {
        return Err(InputError(anyhow::anyhow!(
            "--state {}: no state store there (run replay or live first)",
            state.display()
        ))
        .into());
    }
    let mut store = Store::open(state)?;
    let devices = store.load_devices()?;
    let mut out = std::io::stdout().lock();
    if json {
        for e in iomt_models::inventory::entries(&devices) {
            serde_json::to_writer(&mut out, &e)?;
            out.write_all(b"\n")?;
        }
    } else {
        out.write_all(iomt_models::inventory::table(&devices).as_bytes())?;
    }
    Ok(())
}
