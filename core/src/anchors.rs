//! Anchors of a markdown spec text: explicit `<a name="...">` anchors and GitHub heading slugs.
//!
//! Used by `cargo xtask lint-anchors` and the catalogue tests to prove that every catalogue
//! anchor points at something that exists in the spec text.

use std::collections::{BTreeSet, HashMap};

/// GitHub's heading slug: the rendered heading text (markup and HTML removed), lower-cased,
/// with everything but letters, digits, spaces, hyphens and underscores dropped, and spaces
/// turned into hyphens.
pub fn github_slug(heading: &str) -> String {
    let text = strip_markup(heading);
    let mut slug = String::with_capacity(text.len());
    for ch in text.trim().chars() {
        if ch.is_alphanumeric() || ch == '-' || ch == '_' {
            slug.extend(ch.to_lowercase());
        } else if ch == ' ' {
            slug.push('-');
        }
    }
    slug
}

fn strip_markup(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            // HTML tags vanish.
            '<' => {
                for n in chars.by_ref() {
                    if n == '>' {
                        break;
                    }
                }
            }
            // Links keep their text: [text](url) -> text.
            '[' => {
                let mut text = String::new();
                for n in chars.by_ref() {
                    if n == ']' {
                        break;
                    }
                    text.push(n);
                }
                if chars.peek() == Some(&'(') {
                    for n in chars.by_ref() {
                        if n == ')' {
                            break;
                        }
                    }
                }
                out.push_str(&strip_markup(&text));
            }
            // Code spans and emphasis markers vanish; underscores inside words stay.
            '`' | '*' => {}
            '_' => {
                let prev_word = out.chars().last().is_some_and(char::is_alphanumeric);
                let next_word = chars.peek().is_some_and(|n| n.is_alphanumeric());
                if prev_word && next_word {
                    out.push('_');
                }
            }
            _ => out.push(c),
        }
    }
    out
}

/// Every anchor a markdown document defines, as GitHub renders it.
pub fn anchors(markdown: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut in_fence = false;
    for line in markdown.lines() {
        if line.trim_start().starts_with("```") {
            in_fence = !in_fence;
            continue;
        }
        if in_fence {
            continue;
        }
        let mut rest = line;
        while let Some(i) = rest.find("<a name=\"") {
            rest = &rest[i + 9..];
            if let Some(end) = rest.find('"') {
                out.insert(rest[..end].to_string());
                rest = &rest[end..];
            }
        }
        let hashes = line.bytes().take_while(|&b| b == b'#').count();
        if (1..=6).contains(&hashes) && line[hashes..].starts_with(' ') {
            let text = line[hashes..].trim().trim_end_matches('#').trim_end();
            let slug = github_slug(text);
            let n = seen.entry(slug.clone()).or_insert(0);
            out.insert(if *n == 0 {
                slug.clone()
            } else {
                format!("{slug}-{n}")
            });
            *n += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_like_github() {
        assert_eq!(
            github_slug("_Image Manifest_ Property Descriptions"),
            "image-manifest-property-descriptions"
        );
        assert_eq!(github_slug("<a name=\"configRoot\" />Root"), "root");
        assert_eq!(
            github_slug("Pushing a blob in chunks"),
            "pushing-a-blob-in-chunks"
        );
        assert_eq!(github_slug("`mediaType` (string)"), "mediatype-string");
        assert_eq!(github_slug("Referrers [API](#x)"), "referrers-api");
    }

    #[test]
    fn collects_explicit_anchors_and_numbers_duplicates() {
        let md = "# <a name=\"configuration\" />Configuration\n## Example\n```\n# not a heading\n```\n## Example\n";
        let a = anchors(md);
        for want in ["configuration", "example", "example-1"] {
            assert!(a.contains(want), "{want} missing from {a:?}");
        }
        assert!(!a.contains("not-a-heading"));
    }
}
