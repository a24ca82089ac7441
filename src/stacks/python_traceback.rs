//! Python tracebacks as `traceback.format_exc()` prints them (Python's
//! Lib/traceback.py): blocks of `  File "PATH", line N, in FUNC` frames,
//! outermost first, each followed by its source line, then the exception
//! line `module.Type: message`; chained exceptions add blocks after "The
//! above exception was the direct cause of the following exception:".

use super::api::Frame;

/// A traceback read: the final exception and every frame, innermost last.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Traceback {
    /// The exception's type, as printed (`sqlalchemy.exc.IntegrityError`).
    pub exception: String,
    /// The exception's message: its first line, then the lines after it.
    pub message: String,
    /// The frames of every block, in print order (outermost first).
    pub frames: Vec<Frame>,
}

/// True for a frame in the application's own code: not an installed
/// package, not the standard library, not generated code (`<string>`).
pub fn is_application(file: &str) -> bool {
    !(file.contains("site-packages")
        || file.contains("dist-packages")
        || file.contains("/lib/python")
        || file.starts_with('<'))
}

/// Reads a traceback; `None` when `text` holds none.
pub fn parse(text: &str) -> Option<Traceback> {
    let start = text.rfind("Traceback (most recent call last):")?;
    let mut frames = Vec::new();
    // Frames of every block, so an application frame of a chained
    // exception is not lost.
    for block in text.split("Traceback (most recent call last):").skip(1) {
        frames.extend(block_frames(block));
    }
    let last = &text[start..];
    let mut lines = last.lines().skip(1);
    let line = lines.find(|l| !l.starts_with(' ') && !l.trim().is_empty())?;
    let (exception, first) = line.split_once(": ").unwrap_or((line, ""));
    let rest: Vec<&str> = lines.collect();
    let mut message = first.to_owned();
    for extra in rest.iter().take_while(|l| !l.trim().is_empty()).take(3) {
        message.push('\n');
        message.push_str(extra);
    }
    Some(Traceback {
        exception: exception.trim().to_owned(),
        message,
        frames,
    })
}

fn block_frames(block: &str) -> Vec<Frame> {
    let mut out = Vec::new();
    let mut lines = block.lines().peekable();
    while let Some(line) = lines.next() {
        let Some(frame) = frame_line(line) else {
            continue;
        };
        let source = lines
            .next_if(|l| l.starts_with("    ") && !l.trim_start().starts_with("File \""))
            .map(|l| l.trim().to_owned())
            .unwrap_or_default();
        out.push(Frame { source, ..frame });
    }
    out
}

/// `  File "PATH", line N, in FUNC`.
pub fn frame_line(line: &str) -> Option<Frame> {
    let rest = line.trim_start().strip_prefix("File \"")?;
    let (file, rest) = rest.split_once("\", line ")?;
    let (number, function) = rest.split_once(", in ")?;
    Some(Frame {
        file: file.to_owned(),
        line: number.trim().parse().ok()?,
        function: function.trim().to_owned(),
        source: String::new(),
    })
}

impl Traceback {
    /// The innermost frame in the application's own code.
    pub fn app_frame(&self) -> Option<&Frame> {
        self.frames.iter().rev().find(|f| is_application(&f.file))
    }
}
