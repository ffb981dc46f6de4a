//! The verdict badge: a small flat SVG, like the ones READMEs show for CI.

use crate::html::esc;

/// An SVG badge: "oci-certify" on grey, `value` on the colour of the verdict.
pub fn svg(value: &str) -> String {
    let color = match value {
        "green" => "#1a7f37",
        "yellow" => "#bf8700",
        "red" => "#cf222e",
        _ => "#59636e",
    };
    // About 7 px per character of 11 px Verdana, plus padding.
    let left_w = 76;
    let right_w = 12 + 7 * value.chars().count().min(40) as u32;
    let w = left_w + right_w;
    let value = esc(value);
    format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="20" role="img" aria-label="oci-certify: {value}"><title>oci-certify: {value}</title><clipPath id="r"><rect width="{w}" height="20" rx="3" fill="#fff"/></clipPath><g clip-path="url(#r)"><rect width="{left_w}" height="20" fill="#555"/><rect x="{left_w}" width="{right_w}" height="20" fill="{color}"/></g><g fill="#fff" text-anchor="middle" font-family="Verdana,DejaVu Sans,sans-serif" font-size="11"><text x="{lx}" y="14">oci-certify</text><text x="{rx}" y="14">{value}</text></g></svg>
"##,
        lx = left_w / 2,
        rx = left_w + right_w / 2,
    )
}
