//! Reading `--data` and `--json` values: inline, from a file (`@FILE`) or from stdin (`-`).

use std::io::Read;
use std::path::PathBuf;

/// Where a value comes from.
#[derive(Debug, PartialEq, Eq)]
pub enum Source {
    Inline(String),
    File(PathBuf),
    Stdin,
}

impl Source {
    pub fn parse(value: &str) -> Self {
        match value {
            "-" => Source::Stdin,
            _ => match value.strip_prefix('@') {
                Some(path) => Source::File(PathBuf::from(path)),
                None => Source::Inline(value.to_owned()),
            },
        }
    }
}

/// The text of `source`. Text read from a file or stdin loses one trailing newline, as `$(cat FILE)` would.
pub fn read_text(source: &Source) -> Result<String, String> {
    let text = match source {
        Source::Inline(text) => return Ok(text.clone()),
        Source::File(path) => {
            std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?
        }
        Source::Stdin => {
            let mut text = String::new();
            std::io::stdin().read_to_string(&mut text).map_err(|e| format!("cannot read stdin: {e}"))?;
            text
        }
    };
    let text = text.strip_suffix('\n').map(|t| t.strip_suffix('\r').unwrap_or(t)).unwrap_or(&text);
    Ok(text.to_owned())
}

/// The JSON value in `source`.
pub fn read_json(source: &Source) -> Result<serde_json::Value, String> {
    let text = read_text(source)?;
    serde_json::from_str(&text).map_err(|e| format!("invalid --json: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources() {
        assert_eq!(Source::parse("-"), Source::Stdin);
        assert_eq!(Source::parse("@data.json"), Source::File("data.json".into()));
        assert_eq!(Source::parse("bar"), Source::Inline("bar".into()));
    }

    #[test]
    fn files_lose_one_trailing_newline() {
        let path = std::env::temp_dir().join(format!("publish-input-{}", std::process::id()));
        std::fs::write(&path, "two\nlines\n\n").unwrap();
        assert_eq!(read_text(&Source::File(path.clone())).unwrap(), "two\nlines\n");
        std::fs::write(&path, "{\"a\": 1}\r\n").unwrap();
        assert_eq!(read_json(&Source::File(path.clone())).unwrap(), serde_json::json!({"a": 1}));
        std::fs::remove_file(path).unwrap();
    }

    #[test]
    fn bad_json_and_missing_files_are_explained() {
        assert!(read_json(&Source::Inline("{".into())).unwrap_err().starts_with("invalid --json"));
        assert!(read_text(&Source::File("/nonexistent/x".into())).unwrap_err().starts_with("cannot read"));
    }
}
