#pragma once
// Shows pages one at a time on a terminal, each screen the stage's header line, as much of its
// body as fits, and a line of keys: ↑/↓ or j/k scroll a line, PgUp/PgDn a screen, space a
// screen (and past the end, the next stage); Enter, n or → the next stage, b or ← the one
// before; c prints the rest and ends; q quits. Keys are read unbuffered from `input_fd`.
// Lines are cut to the width (by display width), never wrapped.
#include <string>
#include <vector>

namespace gradflow::cli {

struct Page {
  std::string title;
  std::string text;
};

// Columns `text` takes on a terminal: UTF-8 characters, combining marks (the hat of "x̂") take
// none, nor do ANSI colour sequences.
size_t display_width(const std::string& text);
// `line` cut to at most `width` columns, a cut line ending in "…" (colours reset after a cut).
std::string cut_to_width(const std::string& line, size_t width);
// Every line of `text` cut to `width` columns.
std::string fit_to_width(const std::string& text, size_t width);

// "── stage 3/9: the logits z ──", cut to `width`.
std::string stage_header(const std::vector<Page>& pages, size_t i, size_t width);

struct ScreenSize {
  int rows = 24, columns = 80;
};
// The terminal's size on `fd`, or 24×80 when it cannot tell.
ScreenSize screen_size(int fd);

// Returns when the last page is passed, on c after printing the rest, on q, or at end of input.
// `width`: the columns the pages were laid out for (0: the terminal's).
void page_interactively(const std::vector<Page>& pages, int input_fd, size_t width = 0);

}  // namespace gradflow::cli
