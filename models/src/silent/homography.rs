//! One homography fitted to point pairs by least squares (normalised DLT), and how far the
//! points stray from it.
//!
//! Every point of a plane (a photo, a screen) moves by one homography between two views; the
//! points of a head do not, because its nose, cheeks and outline lie at different depths.

/// A 3x3 homography, row-major, `h[8] == 1`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Homography(pub [f64; 9]);

impl Homography {
    /// Where `p` lands; `None` at the line at infinity.
    pub fn apply(&self, p: [f64; 2]) -> Option<[f64; 2]> {
        let h = &self.0;
        let w = h[6] * p[0] + h[7] * p[1] + h[8];
        if w.abs() < 1e-12 {
            return None;
        }
        Some([
            (h[0] * p[0] + h[1] * p[1] + h[2]) / w,
            (h[3] * p[0] + h[4] * p[1] + h[5]) / w,
        ])
    }
}

/// Hartley's normalisation: centroid to the origin, mean distance sqrt(2). Returns the
/// similarity as (scale, cx, cy); `None` when the points are all one point.
fn normalisation(points: &[[f64; 2]]) -> Option<(f64, f64, f64)> {
    let n = points.len() as f64;
    let cx = points.iter().map(|p| p[0]).sum::<f64>() / n;
    let cy = points.iter().map(|p| p[1]).sum::<f64>() / n;
    let mean = points
        .iter()
        .map(|p| ((p[0] - cx).powi(2) + (p[1] - cy).powi(2)).sqrt())
        .sum::<f64>()
        / n;
    (mean > 1e-9).then(|| (std::f64::consts::SQRT_2 / mean, cx, cy))
}

/// Solves `a x = b` (n x n, row-major) by Gaussian elimination with partial pivoting; `None`
/// when the system is singular.
fn solve(mut a: Vec<f64>, mut b: Vec<f64>, n: usize) -> Option<Vec<f64>> {
    for col in 0..n {
        let pivot =
            (col..n).max_by(|&i, &j| a[i * n + col].abs().total_cmp(&a[j * n + col].abs()))?;
        if a[pivot * n + col].abs() < 1e-12 {
            return None;
        }
        if pivot != col {
            for k in 0..n {
                a.swap(pivot * n + k, col * n + k);
            }
            b.swap(pivot, col);
        }
        for row in col + 1..n {
            let f = a[row * n + col] / a[col * n + col];
            if f == 0.0 {
                continue;
            }
            for k in col..n {
                a[row * n + k] -= f * a[col * n + k];
            }
            b[row] -= f * b[col];
        }
    }
    let mut x = vec![0.0; n];
    for row in (0..n).rev() {
        let s: f64 = (row + 1..n).map(|k| a[row * n + k] * x[k]).sum();
        x[row] = (b[row] - s) / a[row * n + row];
    }
    x.iter().all(|v| v.is_finite()).then_some(x)
}

/// The homography that best maps `from` onto `to` (least squares on normalised points,
/// `h33 = 1`); `None` with fewer than 4 pairs or degenerate points.
pub fn fit(from: &[[f64; 2]], to: &[[f64; 2]]) -> Option<Homography> {
    if from.len() != to.len() || from.len() < 4 {
        return None;
    }
    let (sa, ax, ay) = normalisation(from)?;
    let (sb, bx, by) = normalisation(to)?;
    // Normal equations of the 2n x 8 linear system, accumulated row by row.
    let mut ata = vec![0.0; 64];
    let mut atb = vec![0.0; 8];
    let mut add_row = |row: [f64; 8], rhs: f64| {
        for i in 0..8 {
            for j in 0..8 {
                ata[i * 8 + j] += row[i] * row[j];
            }
            atb[i] += row[i] * rhs;
        }
    };
    for (p, q) in from.iter().zip(to) {
        let (x, y) = ((p[0] - ax) * sa, (p[1] - ay) * sa);
        let (u, v) = ((q[0] - bx) * sb, (q[1] - by) * sb);
        add_row([x, y, 1.0, 0.0, 0.0, 0.0, -x * u, -y * u], u);
        add_row([0.0, 0.0, 0.0, x, y, 1.0, -x * v, -y * v], v);
    }
    let h = solve(ata, atb, 8)?;
    // Undo the normalisations: H = Tb^-1 * Hn * Ta.
    let hn = [h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7], 1.0];
    let ta = [sa, 0.0, -sa * ax, 0.0, sa, -sa * ay, 0.0, 0.0, 1.0];
    let tb_inv = [1.0 / sb, 0.0, bx, 0.0, 1.0 / sb, by, 0.0, 0.0, 1.0];
    let m = mul(&tb_inv, &mul(&hn, &ta));
    if m[8].abs() < 1e-12 {
        return None;
    }
    let mut out = [0.0; 9];
    for (o, v) in out.iter_mut().zip(m) {
        *o = v / m[8];
    }
    Some(Homography(out))
}

fn mul(a: &[f64; 9], b: &[f64; 9]) -> [f64; 9] {
    let mut c = [0.0; 9];
    for r in 0..3 {
        for k in 0..3 {
            c[r * 3 + k] = (0..3).map(|j| a[r * 3 + j] * b[j * 3 + k]).sum();
        }
    }
    c
}

/// Root-mean-square distance, in `to`'s units, between `h(from)` and `to`.
pub fn rms_residual(h: &Homography, from: &[[f64; 2]], to: &[[f64; 2]]) -> Option<f64> {
    let mut sum = 0.0;
    for (p, q) in from.iter().zip(to) {
        let r = h.apply(*p)?;
        sum += (r[0] - q[0]).powi(2) + (r[1] - q[1]).powi(2);
    }
    Some((sum / from.len().max(1) as f64).sqrt())
}

/// Root-mean-square distance, in `to`'s units, between `to` and the best similarity image of
/// `from` (turn, uniform scale, shift: least squares in closed form); `None` when `from` is one
/// point. What a similarity cannot explain is the shape's change: foreshortening, parallax or
/// expression.
pub fn similarity_residual(from: &[[f64; 2]], to: &[[f64; 2]]) -> Option<f64> {
    let n = from.len().min(to.len());
    if n < 2 {
        return None;
    }
    let centroid = |ps: &[[f64; 2]]| {
        let (sx, sy) = ps[..n]
            .iter()
            .fold((0.0, 0.0), |(x, y), p| (x + p[0], y + p[1]));
        (sx / n as f64, sy / n as f64)
    };
    let (ax, ay) = centroid(from);
    let (bx, by) = centroid(to);
    let (mut norm, mut dot, mut cross) = (0.0, 0.0, 0.0);
    for (p, q) in from.iter().zip(to) {
        let (x, y, u, v) = (p[0] - ax, p[1] - ay, q[0] - bx, q[1] - by);
        norm += x * x + y * y;
        dot += x * u + y * v;
        cross += x * v - y * u;
    }
    if norm < 1e-12 {
        return None;
    }
    let (a, b) = (dot / norm, cross / norm);
    let sum: f64 = from
        .iter()
        .zip(to)
        .map(|(p, q)| {
            let (x, y) = (p[0] - ax, p[1] - ay);
            (a * x - b * y - (q[0] - bx)).powi(2) + (b * x + a * y - (q[1] - by)).powi(2)
        })
        .sum();
    Some((sum / n as f64).sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovers_a_perspective_map() {
        let truth = Homography([1.1, 0.05, 12.0, -0.03, 0.95, -7.0, 4e-4, -2e-4, 1.0]);
        let from: Vec<[f64; 2]> = (0..30)
            .map(|i| [100.0 + (i % 6) as f64 * 20.0, 80.0 + (i / 6) as f64 * 25.0])
            .collect();
        let to: Vec<[f64; 2]> = from.iter().filter_map(|p| truth.apply(*p)).collect();
        let h = fit(&from, &to).expect("fit");
        let r = rms_residual(&h, &from, &to).expect("residual");
        assert!(r < 1e-6, "residual {r}");
    }

    #[test]
    fn a_similarity_leaves_no_shape_change_and_a_tilt_does() {
        let from: Vec<[f64; 2]> = (0..30)
            .map(|i| [100.0 + (i % 6) as f64 * 20.0, 80.0 + (i / 6) as f64 * 25.0])
            .collect();
        let turned = Homography([0.9, -0.3, 40.0, 0.3, 0.9, -5.0, 0.0, 0.0, 1.0]);
        let to: Vec<[f64; 2]> = from.iter().filter_map(|p| turned.apply(*p)).collect();
        assert!(similarity_residual(&from, &to).expect("fit") < 1e-9);
        let squashed = Homography([0.7, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]);
        let to: Vec<[f64; 2]> = from.iter().filter_map(|p| squashed.apply(*p)).collect();
        assert!(similarity_residual(&from, &to).expect("fit") > 1.0);
    }

    #[test]
    fn refuses_degenerate_input() {
        let same = vec![[1.0, 1.0]; 6];
        assert!(fit(&same, &same).is_none());
        assert!(fit(&same[..3], &same[..3]).is_none());
    }
}
