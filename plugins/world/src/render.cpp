// Rasterising scenes. Glyphs are small constructive-solid-geometry shapes in
// a [-1, 1] box (y down): discs, ellipses, rectangles, polygons, thick
// segments and (half) rings, each added, subtracted or intersected in order.
// Coverage is measured with 3x3 samples per pixel, which anti-aliases edges.
#include <algorithm>
#include <array>
#include <cmath>

#include "mstar/world/scene.h"

namespace mstar::world {

namespace {

struct V2 {
  float x, y;
};

enum class Kind { Circle, Ellipse, Rect, Poly, Segment, Ring };
enum class Op { Add, Sub, And };

struct Prim {
  Kind kind;
  Op op = Op::Add;
  std::array<float, 5> p{};
  std::vector<V2> pts;
  int half = 0;  // Ring only: 1 keeps y >= cy, 2 keeps y <= cy
};
using Shape = std::vector<Prim>;

Prim circle(float x, float y, float r) { return {Kind::Circle, Op::Add, {x, y, r}, {}, 0}; }
Prim ellipse(float x, float y, float rx, float ry) { return {Kind::Ellipse, Op::Add, {x, y, rx, ry}, {}, 0}; }
Prim rect(float x0, float y0, float x1, float y1) { return {Kind::Rect, Op::Add, {x0, y0, x1, y1}, {}, 0}; }
Prim poly(std::vector<V2> pts) { return {Kind::Poly, Op::Add, {}, std::move(pts), 0}; }
Prim segment(float x0, float y0, float x1, float y1, float half_width) {
  return {Kind::Segment, Op::Add, {x0, y0, x1, y1, half_width}, {}, 0};
}
Prim ring(float x, float y, float r0, float r1, int half = 0) { return {Kind::Ring, Op::Add, {x, y, r0, r1}, {}, half}; }
Prim sub(Prim p) {
  p.op = Op::Sub;
  return p;
}
Prim intersect(Prim p) {
  p.op = Op::And;
  return p;
}

bool inside_poly(const std::vector<V2>& pts, float x, float y) {
  bool in = false;
  for (size_t i = 0, j = pts.size() - 1; i < pts.size(); j = i++) {
    const V2 a = pts[i], b = pts[j];
    if ((a.y > y) != (b.y > y) && x < (b.x - a.x) * (y - a.y) / (b.y - a.y) + a.x) in = !in;
  }
  return in;
}

bool inside_prim(const Prim& q, float x, float y) {
  const auto& p = q.p;
  switch (q.kind) {
    case Kind::Circle: {
      const float dx = x - p[0], dy = y - p[1];
      return dx * dx + dy * dy <= p[2] * p[2];
    }
    case Kind::Ellipse: {
      const float dx = (x - p[0]) / p[2], dy = (y - p[1]) / p[3];
      return dx * dx + dy * dy <= 1;
    }
    case Kind::Rect:
      return x >= p[0] && x <= p[2] && y >= p[1] && y <= p[3];
    case Kind::Poly:
      return inside_poly(q.pts, x, y);
    case Kind::Segment: {
      const float vx = p[2] - p[0], vy = p[3] - p[1];
      const float wx = x - p[0], wy = y - p[1];
      const float len2 = vx * vx + vy * vy;
      const float t = len2 > 0 ? std::clamp((wx * vx + wy * vy) / len2, 0.f, 1.f) : 0.f;
      const float dx = wx - t * vx, dy = wy - t * vy;
      return dx * dx + dy * dy <= p[4] * p[4];
    }
    case Kind::Ring: {
      const float dx = x - p[0], dy = y - p[1];
      const float d2 = dx * dx + dy * dy;
      if (d2 < p[2] * p[2] || d2 > p[3] * p[3]) return false;
      if (q.half == 1) return y >= p[1];
      if (q.half == 2) return y <= p[1];
      return true;
    }
  }
  return false;
}

bool inside(const Shape& shape, float x, float y) {
  bool in = false;
  for (const Prim& q : shape) {
    const bool v = inside_prim(q, x, y);
    if (q.op == Op::Add) in = in || v;
    else if (q.op == Op::Sub) in = in && !v;
    else in = in && v;
  }
  return in;
}

// Local bounding box of the added primitives (subtraction never grows it).
std::array<float, 4> bounds(const Shape& shape) {
  std::array<float, 4> b{1e9f, 1e9f, -1e9f, -1e9f};
  auto grow = [&](float x0, float y0, float x1, float y1) {
    b[0] = std::min(b[0], x0);
    b[1] = std::min(b[1], y0);
    b[2] = std::max(b[2], x1);
    b[3] = std::max(b[3], y1);
  };
  for (const Prim& q : shape) {
    if (q.op != Op::Add) continue;
    const auto& p = q.p;
    switch (q.kind) {
      case Kind::Circle: grow(p[0] - p[2], p[1] - p[2], p[0] + p[2], p[1] + p[2]); break;
      case Kind::Ellipse: grow(p[0] - p[2], p[1] - p[3], p[0] + p[2], p[1] + p[3]); break;
      case Kind::Rect: grow(p[0], p[1], p[2], p[3]); break;
      case Kind::Ring: grow(p[0] - p[3], p[1] - p[3], p[0] + p[3], p[1] + p[3]); break;
      case Kind::Segment:
        grow(std::min(p[0], p[2]) - p[4], std::min(p[1], p[3]) - p[4], std::max(p[0], p[2]) + p[4],
             std::max(p[1], p[3]) + p[4]);
        break;
      case Kind::Poly:
        for (const V2& v : q.pts) grow(v.x, v.y, v.x, v.y);
        break;
    }
  }
  return b;
}

std::vector<V2> star_points(int points, float outer, float inner) {
  std::vector<V2> v;
  for (int i = 0; i < points * 2; ++i) {
    const double t = -M_PI / 2 + M_PI * i / points;
    const float r = i % 2 == 0 ? outer : inner;
    v.push_back({r * static_cast<float>(std::cos(t)), r * static_cast<float>(std::sin(t))});
  }
  return v;
}

// The glyph catalogue's silhouettes, in glyph_catalogue() order. Each is
// drawn to fill most of its box and to differ from the others in outline,
// not only in detail: a 64x64 image and 8x8 patches leave little detail.
const std::vector<Shape>& glyph_shapes() {
  static const std::vector<Shape> shapes = [] {
    std::vector<Shape> s;
    // crown
    s.push_back({poly({{-0.9f, 0.65f}, {-0.9f, -0.55f}, {-0.45f, 0.f}, {0.f, -0.85f}, {0.45f, 0.f},
                       {0.9f, -0.55f}, {0.9f, 0.65f}}),
                 circle(-0.9f, -0.62f, 0.14f), circle(0.f, -0.88f, 0.14f), circle(0.9f, -0.62f, 0.14f)});
    // hourglass
    s.push_back({rect(-0.8f, -0.97f, 0.8f, -0.75f), rect(-0.8f, 0.75f, 0.8f, 0.97f),
                 poly({{-0.66f, -0.75f}, {0.66f, -0.75f}, {0.1f, 0.f}, {0.66f, 0.75f}, {-0.66f, 0.75f}, {-0.1f, 0.f}})});
    // heart
    s.push_back({circle(-0.45f, -0.35f, 0.48f), circle(0.45f, -0.35f, 0.48f),
                 poly({{-0.9f, -0.2f}, {0.9f, -0.2f}, {0.f, 0.92f}})});
    // coin: disc with a square hole
    s.push_back({circle(0, 0, 0.92f), sub(rect(-0.28f, -0.28f, 0.28f, 0.28f))});
    // key
    s.push_back({ring(-0.5f, 0.f, 0.2f, 0.46f), rect(-0.1f, -0.12f, 0.96f, 0.12f), rect(0.5f, 0.12f, 0.66f, 0.46f),
                 rect(0.78f, 0.12f, 0.96f, 0.38f)});
    // sun: disc and eight rays
    {
      Shape sun{circle(0, 0, 0.5f)};
      for (int k = 0; k < 8; ++k) {
        const float t = static_cast<float>(M_PI * k / 4);
        sun.push_back(segment(0.64f * std::cos(t), 0.64f * std::sin(t), 0.92f * std::cos(t), 0.92f * std::sin(t), 0.1f));
      }
      s.push_back(sun);
    }
    // butterfly: four wings, notched at the sides, and antennae
    s.push_back({circle(-0.48f, -0.4f, 0.42f), circle(0.48f, -0.4f, 0.42f), circle(-0.4f, 0.45f, 0.32f),
                 circle(0.4f, 0.45f, 0.32f), sub(poly({{-1.f, -0.08f}, {-0.22f, 0.08f}, {-1.f, 0.3f}})),
                 sub(poly({{1.f, -0.08f}, {0.22f, 0.08f}, {1.f, 0.3f}})), rect(-0.09f, -0.62f, 0.09f, 0.8f),
                 segment(-0.05f, -0.6f, -0.35f, -0.97f, 0.06f), segment(0.05f, -0.6f, 0.35f, -0.97f, 0.06f)});
    // cross
    s.push_back({rect(-0.2f, -0.96f, 0.2f, 0.96f), rect(-0.72f, -0.56f, 0.72f, -0.16f)});
    // bolt
    s.push_back({poly({{0.25f, -0.96f}, {-0.6f, 0.12f}, {-0.05f, 0.12f}, {-0.3f, 0.96f}, {0.62f, -0.2f},
                       {0.08f, -0.2f}, {0.42f, -0.96f}})});
    // house with a door
    s.push_back({rect(-0.7f, -0.05f, 0.7f, 0.9f), poly({{-0.96f, -0.05f}, {0.f, -0.92f}, {0.96f, -0.05f}}),
                 sub(rect(-0.2f, 0.35f, 0.2f, 0.92f))});
    // tree: a round three-lobed crown on a long trunk
    s.push_back({circle(-0.45f, -0.22f, 0.42f), circle(0.45f, -0.22f, 0.42f), circle(0.f, -0.55f, 0.43f),
                 circle(0.f, -0.15f, 0.35f), rect(-0.16f, 0.f, 0.16f, 0.97f), rect(-0.4f, 0.85f, 0.4f, 0.97f)});
    // eye: lens with a ring around the pupil
    s.push_back({circle(0, 0.7f, 1.15f), intersect(circle(0, -0.7f, 1.15f)), sub(ring(0, 0, 0.2f, 0.34f))});
    // sword
    s.push_back({poly({{-0.18f, 0.35f}, {-0.18f, -0.7f}, {0.f, -0.97f}, {0.18f, -0.7f}, {0.18f, 0.35f}}),
                 rect(-0.56f, 0.32f, 0.56f, 0.5f), rect(-0.1f, 0.5f, 0.1f, 0.82f), circle(0, 0.86f, 0.14f)});
    // candle with a separate flame
    s.push_back({rect(-0.3f, -0.22f, 0.3f, 0.96f), circle(0, -0.52f, 0.19f), poly({{-0.19f, -0.52f}, {0.19f, -0.52f}, {0.f, -0.97f}})});
    // apple
    s.push_back({circle(-0.28f, 0.18f, 0.58f), circle(0.28f, 0.18f, 0.58f), sub(circle(0, -0.46f, 0.16f)),
                 rect(-0.06f, -0.82f, 0.06f, -0.36f), poly({{0.06f, -0.6f}, {0.55f, -0.88f}, {0.3f, -0.48f}})});
    // diamond (rhombus)
    s.push_back({poly({{0.f, -0.97f}, {0.72f, 0.f}, {0.f, 0.97f}, {-0.72f, 0.f}})});
    // ladder
    {
      Shape l{rect(-0.72f, -0.97f, -0.46f, 0.97f), rect(0.46f, -0.97f, 0.72f, 0.97f)};
      for (float y : {-0.6f, -0.2f, 0.2f, 0.6f}) l.push_back(rect(-0.46f, y - 0.09f, 0.46f, y + 0.09f));
      s.push_back(l);
    }
    // star
    s.push_back({poly(star_points(5, 0.98f, 0.42f))});
    // flag (swallowtail) on a pole
    s.push_back({rect(-0.86f, -0.96f, -0.68f, 0.96f),
                 poly({{-0.68f, -0.92f}, {0.92f, -0.92f}, {0.55f, -0.5f}, {0.92f, -0.08f}, {-0.68f, -0.08f}})});
    // bell
    s.push_back({circle(0, -0.35f, 0.55f), poly({{-0.55f, -0.35f}, {0.55f, -0.35f}, {0.86f, 0.52f}, {-0.86f, 0.52f}}),
                 rect(-0.92f, 0.48f, 0.92f, 0.64f), circle(0, 0.8f, 0.17f)});
    // mushroom with spots
    s.push_back({circle(0, 0.05f, 0.96f), sub(rect(-1.f, 0.05f, 1.f, 1.1f)), sub(circle(-0.42f, -0.4f, 0.15f)),
                 sub(circle(0.32f, -0.52f, 0.15f)), rect(-0.3f, 0.05f, 0.3f, 0.94f)});
    // umbrella: scalloped canopy, shaft and hook
    s.push_back({circle(0, -0.02f, 0.96f), sub(rect(-1.f, -0.02f, 1.f, 1.1f)), sub(circle(-0.64f, -0.02f, 0.3f)),
                 sub(circle(0.f, -0.02f, 0.3f)), sub(circle(0.64f, -0.02f, 0.3f)), rect(-0.08f, -0.3f, 0.08f, 0.72f),
                 ring(0.22f, 0.7f, 0.12f, 0.29f, 1)});
    // mountain (two peaks)
    s.push_back({poly({{-0.97f, 0.75f}, {-0.35f, -0.55f}, {-0.05f, -0.05f}, {0.35f, -0.9f}, {0.97f, 0.75f}})});
    // moon (crescent)
    s.push_back({circle(0, 0, 0.92f), sub(circle(0.38f, -0.18f, 0.76f))});
    // shield with a split
    s.push_back({poly({{-0.8f, -0.9f}, {0.8f, -0.9f}, {0.8f, 0.1f}, {0.f, 0.97f}, {-0.8f, 0.1f}}),
                 sub(rect(-0.08f, -0.75f, 0.08f, 0.62f))});
    // chalice
    s.push_back({poly({{-0.76f, -0.92f}, {0.76f, -0.92f}, {0.42f, -0.12f}, {-0.42f, -0.12f}}),
                 rect(-0.1f, -0.2f, 0.1f, 0.66f), rect(-0.56f, 0.66f, 0.56f, 0.9f)});
    // drop
    s.push_back({circle(0, 0.3f, 0.62f), poly({{-0.57f, 0.08f}, {0.57f, 0.08f}, {0.f, -0.97f}})});
    // fish
    s.push_back({ellipse(-0.15f, 0, 0.68f, 0.42f), poly({{0.36f, 0.f}, {0.97f, -0.55f}, {0.97f, 0.55f}}),
                 sub(circle(-0.5f, -0.1f, 0.1f))});
    // lock (padlock): tall shackle over a wide body with a keyhole
    s.push_back({ring(0, -0.3f, 0.3f, 0.55f, 2), rect(-0.55f, -0.3f, -0.3f, 0.f), rect(0.3f, -0.3f, 0.55f, 0.f),
                 rect(-0.82f, 0.f, 0.82f, 0.95f), sub(circle(0, 0.38f, 0.15f)), sub(rect(-0.06f, 0.38f, 0.06f, 0.75f))});
    return s;
  }();
  return shapes;
}

// A float RGB canvas with coverage-weighted painting.
struct Canvas {
  int size;
  std::vector<float> px;
  explicit Canvas(int n) : size(n), px(static_cast<size_t>(n) * n * 3, 0.f) {}
  float* at(int x, int y) { return &px[(static_cast<size_t>(y) * size + x) * 3]; }
};

// Maps local shape coordinates to pixels: p = centre + scale * R(angle) * q.
struct Xform {
  float cx = 0, cy = 0, scale = 1, angle = 0;
};

void paint(Canvas& canvas, const Shape& shape, const Xform& t, const float colour[3], float alpha = 1.f) {
  const auto b = bounds(shape);
  const float c = std::cos(t.angle), s = std::sin(t.angle);
  float x0 = 1e9f, y0 = 1e9f, x1 = -1e9f, y1 = -1e9f;
  for (float lx : {b[0], b[2]})
    for (float ly : {b[1], b[3]}) {
      const float px = t.cx + t.scale * (c * lx - s * ly), py = t.cy + t.scale * (s * lx + c * ly);
      x0 = std::min(x0, px), x1 = std::max(x1, px), y0 = std::min(y0, py), y1 = std::max(y1, py);
    }
  const int ix0 = std::max(0, static_cast<int>(std::floor(x0)) - 1);
  const int iy0 = std::max(0, static_cast<int>(std::floor(y0)) - 1);
  const int ix1 = std::min(canvas.size - 1, static_cast<int>(std::ceil(x1)) + 1);
  const int iy1 = std::min(canvas.size - 1, static_cast<int>(std::ceil(y1)) + 1);
  const float inv = 1.f / t.scale;
  for (int y = iy0; y <= iy1; ++y)
    for (int x = ix0; x <= ix1; ++x) {
      int hits = 0;
      for (int sy = 0; sy < 3; ++sy)
        for (int sx = 0; sx < 3; ++sx) {
          const float dx = x + (sx + 0.5f) / 3.f - t.cx, dy = y + (sy + 0.5f) / 3.f - t.cy;
          const float lx = (c * dx + s * dy) * inv, ly = (-s * dx + c * dy) * inv;
          hits += inside(shape, lx, ly) ? 1 : 0;
        }
      if (hits == 0) continue;
      const float a = alpha * static_cast<float>(hits) / 9.f;
      float* p = canvas.at(x, y);
      for (int k = 0; k < 3; ++k) p[k] = p[k] * (1 - a) + colour[k] * a;
    }
}

const float kDark[3] = {58, 58, 64};

void paint_glyph(Canvas& canvas, const Placement& p, const Culture& culture, float frame) {
  const ColourInfo& info = culture.colour(p.colour);
  float colour[3];
  for (int k = 0; k < 3; ++k) colour[k] = std::clamp(info.rgb[k] * p.shade, 0.f, 255.f);
  Xform t{p.x * frame, p.y * frame, p.size / 2 * frame, p.angle};
  paint(canvas, glyph_shapes()[static_cast<size_t>(p.glyph)], t, colour);
}

// Decorations live in the 64x64 frame: scale = frame, centre = origin.
void paint_frame(Canvas& canvas, const Shape& shape, float frame, const float colour[3]) {
  paint(canvas, shape, Xform{0, 0, frame, 0}, colour);
}

// Dark strokes over a glyph get a background-coloured outline first, so they
// stay visible over any glyph colour.
void paint_strokes(Canvas& canvas, const std::vector<std::array<float, 4>>& strokes, float width, float frame,
                   const float background[3]) {
  Shape outline, stroke;
  for (const auto& s : strokes) {
    outline.push_back(segment(s[0], s[1], s[2], s[3], width + 0.8f));
    stroke.push_back(segment(s[0], s[1], s[2], s[3], width));
  }
  paint_frame(canvas, outline, frame, background);
  paint_frame(canvas, stroke, frame, kDark);
}

const Placement* find_role(const Scene& s, Role role) {
  for (const Placement& p : s.placements)
    if (p.role == role) return &p;
  return nullptr;
}

}  // namespace

Image render_scene(const Scene& scene, const Culture& culture, int image_size, double noise) {
  Rng rng(scene.pixel_seed);
  const float frame = static_cast<float>(image_size) / 64.f;
  Canvas canvas(image_size);

  // Background: a light tint, soft blotches, then per-pixel noise at the end.
  const float base = static_cast<float>(rng.uniform(222, 240));
  float background[3];
  for (float& c : background) c = base + static_cast<float>(rng.uniform(-8, 8));
  for (int y = 0; y < image_size; ++y)
    for (int x = 0; x < image_size; ++x) std::copy_n(background, 3, canvas.at(x, y));
  const int blotches = static_cast<int>(std::lround(2 + 5 * noise));
  for (int i = 0; i < blotches; ++i) {
    const float bx = static_cast<float>(rng.uniform(0, 64)) * frame, by = static_cast<float>(rng.uniform(0, 64)) * frame;
    const float r = static_cast<float>(rng.uniform(5, 16)) * frame;
    const float delta = static_cast<float>(rng.uniform(-30, 30) * noise);
    for (int y = 0; y < image_size; ++y)
      for (int x = 0; x < image_size; ++x) {
        const float d2 = ((x - bx) * (x - bx) + (y - by) * (y - by)) / (r * r);
        if (d2 >= 1) continue;
        float* p = canvas.at(x, y);
        for (int k = 0; k < 3; ++k) p[k] += delta * (1 - d2);
      }
  }

  const std::string& id = culture.relation(scene.relation).id;
  const Placement* a = find_role(scene, Role::Agent);
  const Placement* b = find_role(scene, Role::Patient);
  for (const Placement& p : scene.placements) paint_glyph(canvas, p, culture, frame);

  if (id == "arrow" && a && b) {
    const float dir = b->x > a->x ? 1.f : -1.f;
    const float x0 = a->x + dir * (a->size / 2 + 1.5f), x1 = b->x - dir * (b->size / 2 + 1.5f);
    const float y = (a->y + b->y) / 2;
    Shape arrow{segment(x0, y, x1 - dir * 4.5f, y, 1.2f), poly({{x1, y}, {x1 - dir * 6.5f, y - 4.2f}, {x1 - dir * 6.5f, y + 4.2f}})};
    paint_frame(canvas, arrow, frame, kDark);
  } else if (id == "facing" && a && b) {
    Shape wedges;
    for (const Placement* p : {a, b}) {
      const Placement* other = p == a ? b : a;
      const float dir = other->x > p->x ? 1.f : -1.f;
      const float x = p->x + dir * (p->size / 2 + 0.5f);
      wedges.push_back(poly({{x, p->y - 4.5f}, {x, p->y + 4.5f}, {x + dir * 6.f, p->y}}));
    }
    paint_frame(canvas, wedges, frame, kDark);
  } else if (id == "balanced" && a && b) {
    const float beam = std::max(a->y + a->size / 2, b->y + b->size / 2) + 1.6f;
    Shape balance{segment(5, beam, 59, beam, 1.3f), poly({{32, beam}, {25.5f, 62}, {38.5f, 62}}),
                  segment(5, beam - 2.5f, 5, beam, 0.9f), segment(59, beam - 2.5f, 59, beam, 0.9f)};
    paint_frame(canvas, balance, frame, kDark);
  } else if (id == "caged" && b) {
    // A box with doubled side bars; no bar crosses the caged glyph.
    const float half_w = b->size / 2 + 5, half_h = b->size / 2 + 6;
    const float l = b->x - half_w, r = b->x + half_w, t = b->y - half_h, d = b->y + half_h;
    Shape cage{segment(l, t, r, t, 1.0f), segment(l, d, r, d, 1.0f)};
    for (float x : {l, l + 2.6f, r - 2.6f, r}) cage.push_back(segment(x, t, x, d, 0.75f));
    paint_frame(canvas, cage, frame, kDark);
  } else if (id == "cracked" && a) {
    std::vector<std::array<float, 4>> crack;
    const int steps = 5;
    float px = a->x + static_cast<float>(rng.uniform(-2, 2)), py = a->y - a->size / 2 - 1;
    for (int k = 1; k <= steps; ++k) {
      const float ny = a->y - a->size / 2 - 1 + (a->size + 2) * static_cast<float>(k) / steps;
      const float nx = a->x + (k % 2 ? 1.f : -1.f) * a->size * 0.1f + static_cast<float>(rng.uniform(-1, 1));
      crack.push_back({px, py, nx, ny});
      px = nx, py = ny;
    }
    Shape s;
    for (const auto& c : crack) s.push_back(segment(c[0], c[1], c[2], c[3], 0.8f));
    paint_frame(canvas, s, frame, background);
  } else if (id == "haloed" && a) {
    Shape dots;
    const double start = rng.uniform(0, 1);
    const float r = a->size / 2 + 5;
    for (int k = 0; k < 12; ++k) {
      const double t = (start + k) * 6.283185307179586 / 12;
      dots.push_back(circle(a->x + r * static_cast<float>(std::cos(t)), a->y + r * static_cast<float>(std::sin(t)), 1.6f));
    }
    paint_frame(canvas, dots, frame, kDark);
  } else if (id == "crossed" && a) {
    // One slash across the glyph, beyond its box (a single stroke hides less of it than an X).
    const float h = a->size / 2 + 2;
    paint_strokes(canvas, {{a->x - h, a->y - h, a->x + h, a->y + h}}, 1.1f, frame, background);
  }

  Image image(image_size, image_size);
  const double amplitude = 26.0 * noise;
  for (int y = 0; y < image_size; ++y)
    for (int x = 0; x < image_size; ++x) {
      const float* p = canvas.at(x, y);
      const double lum = rng.uniform(-amplitude, amplitude);
      uint8_t* out = image.at(x, y);
      for (int k = 0; k < 3; ++k) {
        const double v = p[k] + lum + rng.uniform(-amplitude, amplitude) * 0.3;
        out[k] = static_cast<uint8_t>(std::lround(std::clamp(v, 0.0, 255.0)));
      }
    }
  return image;
}

Image render_glyph_sheet(const Culture& culture, int cell, int columns) {
  const int n = culture.glyph_count();
  const int rows = (n + columns - 1) / columns;
  Image image(cell * columns, cell * rows);
  std::fill(image.rgb.begin(), image.rgb.end(), 255);
  for (int g = 0; g < n; ++g) {
    Canvas canvas(cell);
    std::fill(canvas.px.begin(), canvas.px.end(), 255.f);
    const float black[3] = {20, 20, 24};
    paint(canvas, glyph_shapes()[static_cast<size_t>(g)], Xform{cell / 2.f, cell / 2.f, cell * 0.42f, 0}, black);
    const int ox = (g % columns) * cell, oy = (g / columns) * cell;
    for (int y = 0; y < cell; ++y)
      for (int x = 0; x < cell; ++x)
        for (int k = 0; k < 3; ++k)
          image.at(ox + x, oy + y)[k] = static_cast<uint8_t>(std::lround(std::clamp(canvas.at(x, y)[k], 0.f, 255.f)));
  }
  return image;
}

}  // namespace mstar::world
