#pragma once
// The run report: one self-contained HTML file (inline SVG, no scripts, no network) built from
// the files of a run directory: config.json, metrics.jsonl, summary.json, and when present
// calibration.json (reliability, confusion) and grads.jsonl (gradient norms per layer).
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

namespace gradflow {

// Writes <run_dir>/report.html atomically and returns its path; InputError naming a missing or
// malformed file.
std::string write_report(const std::string& run_dir);

// The records of a JSON Lines file (metrics.jsonl, grads.jsonl), each with its line number;
// InputError naming the file and line of a malformed record. A missing file has no records.
using JsonlRecords = std::vector<std::pair<int, nlohmann::json>>;
JsonlRecords read_jsonl(const std::string& path);

// A chart with its caption below it: <figure>svg<figcaption>caption</figcaption></figure>.
std::string html_figure(const std::string& svg_text, const std::string& caption);

// A self-contained HTML page in the reports' style: `body` (HTML) under a heading `title`.
std::string html_page(const std::string& title, const std::string& body);

}  // namespace gradflow
