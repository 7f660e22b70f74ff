#include "terminal_pager.h"

#include <termios.h>
#include <unistd.h>

#include <cstdio>

namespace gradflow::cli {

namespace {

// Puts the terminal in non-canonical, no-echo mode for the lifetime of the object.
class RawMode {
 public:
  explicit RawMode(int fd) : fd_(fd) {
    active_ = ::tcgetattr(fd_, &saved_) == 0;
    if (!active_) return;
    termios raw = saved_;
    raw.c_lflag &= static_cast<tcflag_t>(~(ICANON | ECHO));
    raw.c_cc[VMIN] = 1;
    raw.c_cc[VTIME] = 0;
    ::tcsetattr(fd_, TCSANOW, &raw);
  }
  ~RawMode() {
    if (active_) ::tcsetattr(fd_, TCSANOW, &saved_);
  }
  RawMode(const RawMode&) = delete;
  RawMode& operator=(const RawMode&) = delete;

 private:
  int fd_;
  bool active_ = false;
  termios saved_{};
};

void show(const std::vector<Page>& pages, size_t i) {
  std::printf("\033[2J\033[H── stage %zu/%zu: %s ──\n%s\n", i + 1, pages.size(), pages[i].title.c_str(),
              pages[i].text.c_str());
  std::printf("\n[Enter/space/n] next   [b] back   [c] run to the end   [q] quit\n");
  std::fflush(stdout);
}

}  // namespace

void page_interactively(const std::vector<Page>& pages, int input_fd) {
  if (pages.empty()) return;
  RawMode raw(input_fd);
  size_t i = 0;
  show(pages, i);
  for (;;) {
    char key = 0;
    const ssize_t n = ::read(input_fd, &key, 1);
    if (n <= 0) return;
    switch (key) {
      case '\n': case '\r': case ' ': case 'n':
        if (i + 1 == pages.size()) return;
        show(pages, ++i);
        break;
      case 'b':
        if (i > 0) --i;
        show(pages, i);
        break;
      case 'c':
        for (size_t k = i + 1; k < pages.size(); ++k) {
          std::printf("\n── stage %zu/%zu: %s ──\n%s\n", k + 1, pages.size(), pages[k].title.c_str(),
                      pages[k].text.c_str());
        }
        std::fflush(stdout);
        return;
      case 'q':
        return;
      default:
        break;
    }
  }
}

}  // namespace gradflow::cli
