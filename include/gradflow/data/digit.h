#pragma once
// Finding a handwritten digit in a photo of paper, as MNIST's digits were made: the ink's
// strength relative to the paper (which removes uneven light and shadows), contrast normalised,
// the digit's connected ink kept (specks of noise and paper edges dropped). center_digit() in
// image.h then scales its bounding box into 20 × 20 and centres its centre of mass in 28 × 28.
//
// The steps, on a copy shrunk to at most kWorkSide pixels a side:
//   polarity   dark ink on light paper, or light on dark: whether the pixels that differ from
//              the median of their block (a quarter of the picture) are mostly darker or lighter
//   paper      per colour channel (inverted for light ink), a grey closing (window a quarter of
//              the picture), which removes the ink and keeps the light's gradients and shadows:
//              the paper's colour under the picture's light
//   ink        1 − channel / paper, the largest over the channels, so coloured ink on coloured
//              paper counts as fully as black on white
//   threshold  Otsu's, never below the paper's noise (median + 6 · 1.4826 · MAD) nor 0.1
//   digit      8-connected components; the largest not touching the border (a paper edge), with
//              the components within 1/12 of its size; specks under 8% of it dropped; other
//              groups of ink half its height or a quarter of its ink, or a digit wider than
//              1.15 times its height, mean several digits
//   contrast   (ink − noise) / (90th percentile of the digit's ink − noise), clipped to [0, 1]
#include <vector>

namespace gradflow {

// Pictures are shrunk (by an integer factor, averaging) until no side is longer than this.
constexpr int kWorkSide = 512;

// A picture in colour: rows × cols pixels, each 3 values in [0, 1] (red, green, blue),
// row-major and interleaved.
struct ColourImage {
  int rows = 0, cols = 0;
  std::vector<float> rgb;
};

// How many digits a picture seems to hold.
enum class DigitCount { kNone, kOne, kSeveral };

struct FoundDigit {
  int rows = 0, cols = 0;     // the working size (the picture shrunk to at most kWorkSide)
  std::vector<float> ink;     // rows × cols, light on black in [0, 1], 0 away from the digit
  DigitCount count = DigitCount::kNone;
  int groups = 0;             // separate digit-sized groups of ink (2 for a photo of "42")
  bool dark_on_light = true;  // the polarity found
};

// The digit on `photo`; count kNone (and ink all 0) on a blank page. With several groups of
// ink, `ink` holds the largest group only.
FoundDigit find_digit(const ColourImage& photo);

}  // namespace gradflow
