#include "gradflow/files.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "gradflow/errors.h"

namespace gradflow {

namespace {
[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw InputError(path + ": " + what + ": " + std::strerror(errno));
}

void write_all(int fd, const char* data, size_t size, const std::string& path) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail(path, "cannot write");
    }
    data += n;
    size -= static_cast<size_t>(n);
  }
}
}  // namespace

void write_file_atomic(const std::string& given, const std::string& bytes) {
  namespace fs = std::filesystem;
  std::error_code error;
  // A link is written through to its target (the link stays a link); a FIFO or a device
  // (/dev/null, /dev/stdout) is written directly: a rename would replace it with a regular file.
  std::string path = given;
  if (fs::is_symlink(fs::symlink_status(given, error))) {
    const fs::path resolved = fs::weakly_canonical(fs::path(given), error);
    if (error) throw InputError(given + ": cannot follow the link: " + error.message());
    path = resolved.string();
  }
  const fs::file_status status = fs::status(path, error);
  if (fs::exists(status) && !fs::is_regular_file(status)) {
    if (fs::is_directory(status)) throw InputError(path + ": is a directory, not a file");
    const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) fail(path, "cannot open");
    try {
      write_all(fd, bytes.data(), bytes.size(), path);
    } catch (...) {
      ::close(fd);
      throw;
    }
    if (::close(fd) != 0) fail(path, "cannot close");
    return;
  }
  const std::filesystem::path target(path);
  if (target.has_parent_path()) std::filesystem::create_directories(target.parent_path());
  // unique per process: two writers of one path never share a temporary file
  const std::string temporary = path + "." + std::to_string(::getpid()) + ".tmp";
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) fail(path, "cannot create");
  try {
    write_all(fd, bytes.data(), bytes.size(), path);
    if (::fsync(fd) != 0) fail(path, "cannot flush");
  } catch (...) {
    ::close(fd);
    std::remove(temporary.c_str());  // never leave a partial file behind
    throw;
  }
  if (::close(fd) != 0) {
    const int saved = errno;
    std::remove(temporary.c_str());
    errno = saved;
    fail(path, "cannot close");
  }
  if (std::rename(temporary.c_str(), path.c_str()) != 0) {
    const int saved = errno;
    std::remove(temporary.c_str());
    errno = saved;
    fail(path, "cannot rename into place");
  }
}

std::string read_file(const std::string& path, const std::string& what) {
  std::error_code error;
  if (std::filesystem::is_directory(path, error)) throw InputError(path + ": is a directory, not " + what);
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, "cannot open " + what);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) fail(path, "cannot read " + what);
  return bytes;
}

void append_line(const std::string& path, const std::string& line) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) fail(path, "cannot open for appending");
  const std::string text = line + "\n";
  try {
    write_all(fd, text.data(), text.size(), path);
  } catch (...) {
    ::close(fd);
    throw;
  }
  ::close(fd);
}

std::string display_path(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code error;
  const fs::path relative = fs::proximate(path, error);
  if (error || relative.empty() || *relative.begin() == "..") return path;
  return relative.string();
}

}  // namespace gradflow
