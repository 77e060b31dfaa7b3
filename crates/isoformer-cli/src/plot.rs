//! `predict --plot`: the isoforms × tissues heatmap. One layout ([`Figure`]: rectangles, lines,
//! text) is written out as SVG or rasterised to PNG, so both carry the same content.
//!
//! PNG: tiny-skia fills the shapes, ttf-parser gives the glyph outlines of an embedded font
//! (DejaVu Sans cut to Latin-1, `assets/`; no system fonts needed), and the file is encoded here
//! with flate2's zlib and CRC-32. resvg would render the SVG itself, but its PNG stack (png →
//! fdeflate) turns on simd-adler32 features that burn's dependency tree shares, which would
//! rebuild burn.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use anyhow::{Result, anyhow, bail};
use isoformer_pipeline::table::{PredictionTable, Units};
use tiny_skia::{Color, FillRule, Paint, PathBuilder, Pixmap, Rect, Stroke, Transform};

/// DejaVu Sans cut to Latin-1 and common punctuation (assets/README.md).
const FONT: &[u8] = include_bytes!("../assets/DejaVuSans-subset.ttf");
/// SVG font size, in pixels.
const FONT_SIZE: f32 = 10.0;

/// Image formats `--plot` draws, by file extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlotFormat {
    Svg,
    Png,
}

impl PlotFormat {
    pub fn of(path: &Path) -> Result<Self> {
        match path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
            Some("svg") => Ok(Self::Svg),
            Some("png") => Ok(Self::Png),
            _ => bail!("--plot {}: the name must end in .svg or .png", path.display()),
        }
    }
}

/// The heatmap file's bytes for a prediction table.
pub fn heatmap(format: PlotFormat, table: &PredictionTable) -> Result<Vec<u8>> {
    let rows = crate::predict::plot_rows(table);
    let figure = Figure::heatmap(&rows, &table.outputs, table.units());
    match format {
        PlotFormat::Svg => Ok(figure.svg().into_bytes()),
        PlotFormat::Png => figure.png(),
    }
}

/// How values map to colours.
enum Scale {
    /// White → dark blue from the smallest to the largest value; the legend names the values.
    Sequential(String),
    /// Blue → white (0) → red, symmetric about 0; the legend names the values.
    Diverging(String),
}

/// A variant's isoforms × outputs Δ heatmap (`score-variants --plot`): rows labelled by gene name
/// and transcript, grouped by gene, a diverging scale centred on 0, the variant as the title.
pub fn delta_heatmap(format: PlotFormat, rows: &[isoformer_pipeline::variants::VariantRow], outputs: &[String]) -> Result<Vec<u8>> {
    let labels: Vec<String> = rows.iter().map(|r| format!("{} {}", r.transcript_id, r.consequence)).collect();
    let plot_rows: Vec<(&str, &str, &[f32])> = rows
        .iter()
        .zip(&labels)
        .map(|(r, l)| (l.as_str(), if r.gene_name.is_empty() { r.gene_id.as_str() } else { r.gene_name.as_str() }, r.delta.as_slice()))
        .collect();
    let title = rows.first().map(|r| format!("{} ({}): alt - ref", r.variant_id, if r.vcf_id == "." { "no id" } else { &r.vcf_id }));
    let figure = Figure::heatmap_on(&plot_rows, outputs, Scale::Diverging("delta".into()), title);
    match format {
        PlotFormat::Svg => Ok(figure.svg().into_bytes()),
        PlotFormat::Png => figure.png(),
    }
}

enum Shape {
    /// A filled cell; `title` is the SVG tooltip. Without one it is a legend swatch, outlined
    /// (the low end is white).
    Rect { x: usize, y: usize, size: usize, fill: [u8; 3], title: Option<String> },
    /// A horizontal rule across the figure at `y`.
    Rule { y: usize },
    /// Text whose baseline starts at (x, y), or ends there (`end`), turned by `rotate` degrees.
    Text { x: usize, y: usize, end: bool, rotate: i32, text: String },
}

struct Figure {
    width: usize,
    height: usize,
    shapes: Vec<Shape>,
}

impl Figure {
    /// Rows grouped by gene (in order of first appearance), one colour scale (white → dark blue)
    /// from the smallest to the largest value, a legend with both ends.
    fn heatmap(rows: &[(&str, &str, &[f32])], tissues: &[String], units: Units) -> Self {
        Self::heatmap_on(rows, tissues, Scale::Sequential(format!("predicted{}", units.legend())), None)
    }

    /// [`Figure::heatmap`] on a given colour scale, with an optional title line.
    fn heatmap_on(rows: &[(&str, &str, &[f32])], tissues: &[String], scale: Scale, title: Option<String>) -> Self {
        let mut order: Vec<usize> = (0..rows.len()).collect();
        let mut first: HashMap<&str, usize> = HashMap::new();
        for (i, r) in rows.iter().enumerate() {
            first.entry(r.1).or_insert(i);
        }
        order.sort_by_key(|&i| (first[rows[i].1], i));
        let (lo, hi) = rows.iter().flat_map(|r| r.2.iter()).fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
        let span = if hi > lo { hi - lo } else { 1.0 };
        // Diverging: white at 0, blue below, red above, both ends at the largest |value|.
        let reach = if lo.abs().max(hi.abs()) > 0.0 { lo.abs().max(hi.abs()) } else { 1.0 };
        let (cell, left, top) = (14usize, 260usize, 150usize);
        let (width, height) = (left + cell * tissues.len() + 20, top + cell * rows.len() + 50);
        let diverging = matches!(scale, Scale::Diverging(_));
        let colour = |v: f32| {
            let mix = |to: [f32; 3], t: f32| {
                let c = |a: f32, b: f32| (a + (b - a) * t).round() as u8;
                [c(255.0, to[0]), c(255.0, to[1]), c(255.0, to[2])]
            };
            if diverging {
                let t = (v / reach).clamp(-1.0, 1.0);
                if t < 0.0 { mix([33.0, 102.0, 172.0], -t) } else { mix([178.0, 24.0, 43.0], t) }
            } else {
                mix([8.0, 48.0, 107.0], ((v - lo) / span).clamp(0.0, 1.0))
            }
        };
        let mut shapes = Vec::new();
        if let Some(title) = title {
            shapes.push(Shape::Text { x: 8, y: 16, end: false, rotate: 0, text: title });
        }
        for (j, t) in tissues.iter().enumerate() {
            shapes.push(Shape::Text { x: left + j * cell + cell / 2, y: top - 4, end: false, rotate: -60, text: t.clone() });
        }
        let mut previous_gene = None;
        for (k, &i) in order.iter().enumerate() {
            let (id, gene, values) = rows[i];
            let y = top + k * cell;
            if previous_gene.is_some_and(|g| g != gene) {
                shapes.push(Shape::Rule { y });
            }
            previous_gene = Some(gene);
            let label = if gene.is_empty() { id.to_string() } else { format!("{gene} {id}") };
            shapes.push(Shape::Text { x: left - 4, y: y + cell - 3, end: true, rotate: 0, text: label });
            for (j, &v) in values.iter().enumerate() {
                shapes.push(Shape::Rect { x: left + j * cell, y, size: cell, fill: colour(v), title: Some(format!("{id} {}: {v:.4}", tissues[j])) });
            }
        }
        let y = top + rows.len() * cell + 20;
        let ends = match &scale {
            Scale::Sequential(what) => vec![(lo, format!("{lo:.3}")), (hi, format!("{hi:.3} ({what})"))],
            Scale::Diverging(what) => vec![(-reach, format!("{:.3}", -reach)), (0.0, "0".into()), (reach, format!("{reach:.3} ({what})"))],
        };
        for (k, (v, text)) in ends.into_iter().enumerate() {
            shapes.push(Shape::Rect { x: left + 90 * k, y, size: cell, fill: colour(v), title: None });
            shapes.push(Shape::Text { x: left + 90 * k + cell + 4, y: y + cell - 3, end: false, rotate: 0, text });
        }
        Self { width, height: height.max(y + cell + 10), shapes }
    }

    fn svg(&self) -> String {
        let esc = |s: &str| crate::eval::esc(s);
        let hex = |c: [u8; 3]| format!("#{:02x}{:02x}{:02x}", c[0], c[1], c[2]);
        let (w, h) = (self.width, self.height);
        let mut s = format!("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" font-family=\"sans-serif\" font-size=\"{FONT_SIZE}\">\n");
        for shape in &self.shapes {
            s += &match shape {
                Shape::Rect { x, y, size, fill, title: Some(t) } => {
                    format!("<rect x=\"{x}\" y=\"{y}\" width=\"{size}\" height=\"{size}\" fill=\"{}\"><title>{}</title></rect>\n", hex(*fill), esc(t))
                }
                Shape::Rect { x, y, size, fill, title: None } => {
                    format!("<rect x=\"{x}\" y=\"{y}\" width=\"{size}\" height=\"{size}\" fill=\"{}\" stroke=\"#444\"/>\n", hex(*fill))
                }
                Shape::Rule { y } => format!("<line x1=\"0\" x2=\"{w}\" y1=\"{y}\" y2=\"{y}\" stroke=\"#444\"/>\n"),
                Shape::Text { x, y, end: false, rotate: 0, text } => format!("<text x=\"{x}\" y=\"{y}\">{}</text>\n", esc(text)),
                Shape::Text { x, y, end: true, rotate: 0, text } => format!("<text x=\"{x}\" y=\"{y}\" text-anchor=\"end\">{}</text>\n", esc(text)),
                Shape::Text { x, y, end, rotate, text } => {
                    let anchor = if *end { " text-anchor=\"end\"" } else { "" };
                    format!("<text transform=\"translate({x},{y}) rotate({rotate})\"{anchor}>{}</text>\n", esc(text))
                }
            };
        }
        s += "</svg>\n";
        s
    }

    /// RGB PNG on white, at twice the SVG's size while that stays under 8,192 pixels a side (so
    /// the 10-pixel labels stay legible), at its size otherwise.
    fn png(&self) -> Result<Vec<u8>> {
        let face = ttf_parser::Face::parse(FONT, 0).map_err(|e| anyhow!("embedded font: {e}"))?;
        let scale = if self.width.max(self.height) * 2 <= 8192 { 2.0 } else { 1.0 };
        let (w, h) = ((self.width as f32 * scale) as u32, (self.height as f32 * scale) as u32);
        let mut pixmap = Pixmap::new(w, h).ok_or_else(|| anyhow!("a heatmap of {w}×{h} pixels is too large for a PNG: draw it as .svg"))?;
        pixmap.fill(Color::WHITE);
        let base = Transform::from_scale(scale, scale);
        let mut paint = Paint { anti_alias: true, ..Paint::default() };
        for shape in &self.shapes {
            match shape {
                Shape::Rect { x, y, size, fill, title } => {
                    paint.set_color_rgba8(fill[0], fill[1], fill[2], 255);
                    let rect = Rect::from_xywh(*x as f32, *y as f32, *size as f32, *size as f32).expect("positive cell");
                    pixmap.fill_rect(rect, &paint, base, None);
                    if title.is_none() {
                        paint.set_color_rgba8(0x44, 0x44, 0x44, 255);
                        pixmap.stroke_path(&PathBuilder::from_rect(rect), &paint, &Stroke::default(), base, None);
                    }
                }
                Shape::Rule { y } => {
                    paint.set_color_rgba8(0x44, 0x44, 0x44, 255);
                    let mut pb = PathBuilder::new();
                    pb.move_to(0.0, *y as f32);
                    pb.line_to(self.width as f32, *y as f32);
                    let path = pb.finish().expect("a line");
                    pixmap.stroke_path(&path, &paint, &Stroke::default(), base, None);
                }
                Shape::Text { x, y, end, rotate, text } => {
                    paint.set_color_rgba8(0, 0, 0, 255);
                    let Some(path) = text_path(&face, text) else { continue };
                    let em = FONT_SIZE / face.units_per_em() as f32;
                    let shift = if *end { -advance(&face, text) * em } else { 0.0 };
                    // Font units (y up) → pixels (y down), anchored, rotated about the anchor.
                    let t = base.pre_translate(*x as f32, *y as f32).pre_rotate(*rotate as f32).pre_translate(shift, 0.0).pre_scale(em, -em);
                    pixmap.fill_path(&path, &paint, FillRule::Winding, t, None);
                }
            }
        }
        encode_png(&pixmap)
    }
}

/// Sum of the glyphs' advances, in font units (no kerning: neither does the layout above).
fn advance(face: &ttf_parser::Face, text: &str) -> f32 {
    text.chars().map(|c| face.glyph_index(c).or_else(|| face.glyph_index('?')).and_then(|g| face.glyph_hor_advance(g)).unwrap_or(0) as f32).sum()
}

/// Outlines of `text` laid out on a baseline from the origin, in font units; a character the
/// font lacks is drawn as `?`.
fn text_path(face: &ttf_parser::Face, text: &str) -> Option<tiny_skia::Path> {
    struct Outline {
        pb: PathBuilder,
        dx: f32,
    }
    impl ttf_parser::OutlineBuilder for Outline {
        fn move_to(&mut self, x: f32, y: f32) {
            self.pb.move_to(x + self.dx, y);
        }
        fn line_to(&mut self, x: f32, y: f32) {
            self.pb.line_to(x + self.dx, y);
        }
        fn quad_to(&mut self, x1: f32, y1: f32, x: f32, y: f32) {
            self.pb.quad_to(x1 + self.dx, y1, x + self.dx, y);
        }
        fn curve_to(&mut self, x1: f32, y1: f32, x2: f32, y2: f32, x: f32, y: f32) {
            self.pb.cubic_to(x1 + self.dx, y1, x2 + self.dx, y2, x + self.dx, y);
        }
        fn close(&mut self) {
            self.pb.close();
        }
    }
    let mut outline = Outline { pb: PathBuilder::new(), dx: 0.0 };
    for c in text.chars() {
        let Some(g) = face.glyph_index(c).or_else(|| face.glyph_index('?')) else { continue };
        face.outline_glyph(g, &mut outline);
        outline.dx += face.glyph_hor_advance(g).unwrap_or(0) as f32;
    }
    outline.pb.finish()
}

/// An opaque pixmap as an 8-bit RGB PNG (PNG spec: IHDR, one zlib IDAT, IEND; filter 0 rows).
fn encode_png(pixmap: &Pixmap) -> Result<Vec<u8>> {
    let (w, h) = (pixmap.width(), pixmap.height());
    let mut raw = Vec::with_capacity((w as usize * 3 + 1) * h as usize);
    for row in pixmap.data().chunks_exact(w as usize * 4) {
        raw.push(0);
        // Premultiplied RGBA, but every pixel is opaque (white background).
        raw.extend(row.chunks_exact(4).flat_map(|p| [p[0], p[1], p[2]]));
    }
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(&raw)?;
    let idat = z.finish()?;
    let mut ihdr = Vec::with_capacity(13);
    ihdr.extend(w.to_be_bytes());
    ihdr.extend(h.to_be_bytes());
    ihdr.extend([8, 2, 0, 0, 0]); // 8-bit, RGB, deflate, adaptive filtering, no interlace
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    for (kind, data) in [(b"IHDR", &ihdr[..]), (b"IDAT", &idat[..]), (b"IEND", &[][..])] {
        png.extend((data.len() as u32).to_be_bytes());
        png.extend(kind);
        png.extend(data);
        let mut crc = flate2::Crc::new();
        crc.update(kind);
        crc.update(data);
        png.extend(crc.sum().to_be_bytes());
    }
    Ok(png)
}
