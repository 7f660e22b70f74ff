#include "terminal_pager.h"

#include <poll.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

namespace gradflow::cli {

namespace {

// Length in bytes of the ANSI sequence "\033[...X" at `at`, or 0.
size_t escape_length(const std::string& text, size_t at) {
  if (text[at] != '\033' || at + 1 >= text.size() || text[at + 1] != '[') return 0;
  size_t end = at + 2;
  while (end < text.size() && !((text[end] >= 'A' && text[end] <= 'Z') || (text[end] >= 'a' && text[end] <= 'z'))) ++end;
  return end < text.size() ? end + 1 - at : text.size() - at;
}

// The code point starting at `at` (a lead byte) and its length in bytes.
std::pair<unsigned, size_t> decode(const std::string& text, size_t at) {
  const auto c = static_cast<unsigned char>(text[at]);
  size_t n = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
  n = std::min(n, text.size() - at);
  unsigned code = n == 1 ? c : c & (0x3F >> (n - 1));
  for (size_t k = 1; k < n; ++k) code = (code << 6) | (static_cast<unsigned char>(text[at + k]) & 0x3F);
  return {code, n};
}

// Combining diacritical marks sit on the character before them.
bool zero_width(unsigned code) { return code >= 0x0300 && code <= 0x036F; }

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

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t end = text.find('\n', start);
    lines.push_back(text.substr(start, end == std::string::npos ? std::string::npos : end - start));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  while (!lines.empty() && lines.back().empty()) lines.pop_back();
  return lines;
}

enum class Key { None, Up, Down, PageUp, PageDown, Space, Next, Back, Continue, Quit, End };

// One key press; escape sequences (arrows, PgUp/PgDn) arrive together, read within 50 ms.
Key read_key(int fd) {
  char c = 0;
  if (::read(fd, &c, 1) <= 0) return Key::End;
  switch (c) {
    case 'k': return Key::Up;
    case 'j': return Key::Down;
    case ' ': return Key::Space;
    case '\n': case '\r': case 'n': return Key::Next;
    case 'b': return Key::Back;
    case 'c': return Key::Continue;
    case 'q': return Key::Quit;
    case '\033': break;
    default: return Key::None;
  }
  std::string sequence;
  pollfd p{fd, POLLIN, 0};
  while (sequence.size() < 4 && ::poll(&p, 1, 50) > 0) {
    if (::read(fd, &c, 1) <= 0) break;
    sequence += c;
    if ((c >= 'A' && c <= 'Z') || c == '~') break;
  }
  if (sequence == "[A" || sequence == "OA") return Key::Up;
  if (sequence == "[B" || sequence == "OB") return Key::Down;
  if (sequence == "[C" || sequence == "OC") return Key::Next;
  if (sequence == "[D" || sequence == "OD") return Key::Back;
  if (sequence == "[5~") return Key::PageUp;
  if (sequence == "[6~") return Key::PageDown;
  return Key::None;
}

}  // namespace

size_t display_width(const std::string& text) {
  size_t width = 0;
  for (size_t at = 0; at < text.size();) {
    if (const size_t escape = escape_length(text, at)) {
      at += escape;
      continue;
    }
    const auto [code, n] = decode(text, at);
    width += zero_width(code) ? 0 : 1;
    at += n;
  }
  return width;
}

std::string cut_to_width(const std::string& line, size_t width) {
  if (display_width(line) <= width) return line;
  std::string out;
  size_t used = 0;
  bool escaped = false;
  for (size_t at = 0; at < line.size();) {
    if (const size_t escape = escape_length(line, at)) {
      out += line.substr(at, escape);
      escaped = true;
      at += escape;
      continue;
    }
    const auto [code, n] = decode(line, at);
    const size_t w = zero_width(code) ? 0 : 1;
    if (used + w + 1 > width) break;  // keep a column for "…"
    out += line.substr(at, n);
    used += w;
    at += n;
  }
  return out + (width > 0 ? "…" : "") + (escaped ? "\033[0m" : "");
}

std::string fit_to_width(const std::string& text, size_t width) {
  std::string out;
  size_t start = 0;
  for (;;) {
    const size_t end = text.find('\n', start);
    out += cut_to_width(text.substr(start, end == std::string::npos ? std::string::npos : end - start), width);
    if (end == std::string::npos) break;
    out += '\n';
    start = end + 1;
  }
  return out;
}

std::string stage_header(const std::vector<Page>& pages, size_t i, size_t width) {
  return cut_to_width("── stage " + std::to_string(i + 1) + "/" + std::to_string(pages.size()) + ": " + pages[i].title + " ──",
                      width);
}

ScreenSize screen_size(int fd) {
  ScreenSize size;
  winsize w{};
  if (::ioctl(fd, TIOCGWINSZ, &w) == 0 && w.ws_row > 0 && w.ws_col > 0) {
    size.rows = w.ws_row;
    size.columns = w.ws_col;
  }
  return size;
}

void page_interactively(const std::vector<Page>& pages, int input_fd, size_t width) {
  if (pages.empty()) return;
  RawMode raw(input_fd);
  size_t i = 0, top = 0;
  std::vector<std::string> body = lines_of(pages[0].text);
  // one screen: the header, `height` lines of the body, the keys; no newline after the last
  // line, so the screen never scrolls the header away
  auto show = [&]() {
    const ScreenSize screen = screen_size(STDOUT_FILENO);
    const size_t columns = width > 0 ? std::min(width, static_cast<size_t>(screen.columns)) : static_cast<size_t>(screen.columns);
    const size_t height = static_cast<size_t>(std::max(screen.rows - 2, 1));
    top = std::min(top, body.size() > height ? body.size() - height : 0);
    std::string out = "\033[2J\033[H" + stage_header(pages, i, columns) + "\n";
    for (size_t k = top; k < top + height; ++k) out += (k < body.size() ? cut_to_width(body[k], columns) : "") + "\n";
    const size_t last = std::min(top + height, body.size());
    const std::string where = body.size() > height ? "lines " + std::to_string(top + 1) + "-" + std::to_string(last) + "/" +
                                                         std::to_string(body.size()) + "  ↑↓ j/k PgUp/PgDn space  "
                                                   : "";
    out += cut_to_width(where + "n/→ next  b/← back  c: all  q: quit", columns);
    std::fwrite(out.data(), 1, out.size(), stdout);
    std::fflush(stdout);
    return height;
  };
  auto go_to = [&](size_t page) {
    i = page;
    top = 0;
    body = lines_of(pages[i].text);
  };
  size_t height = show();
  for (;;) {
    switch (read_key(input_fd)) {
      case Key::Up:
        if (top > 0) --top;
        break;
      case Key::Down:
        ++top;
        break;
      case Key::PageUp:
        top = top > height ? top - height : 0;
        break;
      case Key::PageDown:
        top += height;
        break;
      case Key::Space:  // a screen on, or at the end of the body the next stage
        if (top + height < body.size()) {
          top += height;
          break;
        }
        [[fallthrough]];
      case Key::Next:
        if (i + 1 == pages.size()) {
          std::printf("\n");
          return;
        }
        go_to(i + 1);
        break;
      case Key::Back:
        if (i > 0) go_to(i - 1);
        break;
      case Key::Continue: {
        const size_t columns = width > 0 ? width : static_cast<size_t>(screen_size(STDOUT_FILENO).columns);
        for (size_t k = i + 1; k < pages.size(); ++k) {
          std::printf("\n%s\n%s\n", stage_header(pages, k, columns).c_str(), fit_to_width(pages[k].text, columns).c_str());
        }
        std::fflush(stdout);
        return;
      }
      case Key::Quit:
        std::printf("\n");
        return;
      case Key::End:
        return;
      case Key::None:
        continue;
    }
    height = show();
  }
}

}  // namespace gradflow::cli
