#pragma once
// Shows pages one at a time on a terminal: Enter, space or n advances, b goes back, c prints the
// rest and ends, q quits. Keys are read unbuffered from `input_fd` (a terminal).
#include <string>
#include <vector>

namespace gradflow::cli {

struct Page {
  std::string title;
  std::string text;
};

// Returns when the last page is passed, on c after printing the rest, on q, or at end of input.
void page_interactively(const std::vector<Page>& pages, int input_fd);

}  // namespace gradflow::cli
