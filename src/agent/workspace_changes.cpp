#include "agent/workspace_changes.hpp"

#include "util/utf8.hpp"

#include <boost/json/value_from.hpp>

#include <algorithm>
#include <utility>

namespace cas::agent {
namespace {

// The NUL-terminated fields of `output`; a last one without its NUL (cut short) is left out.
std::vector<std::string_view> nul_fields(std::string_view output) {
    std::vector<std::string_view> fields;
    for (auto end = output.find('\0'); end != std::string_view::npos; end = output.find('\0')) {
        fields.push_back(output.substr(0, end));
        output.remove_prefix(end + 1);
    }
    return fields;
}

std::string status_name(char letter) {
    switch (letter) {
        case 'A': return "added";
        case 'D': return "deleted";
        case 'T': return "type_changed";
        case 'U': return "unmerged";
        default: return "modified";  // M, and what git says of a file it cannot classify
    }
}

}  // namespace

std::vector<ChangedFile> parse_name_status(std::string_view output) {
    const auto fields = nul_fields(output);
    std::vector<ChangedFile> files;
    for (std::size_t i = 0; i < fields.size();) {
        const auto letters = fields[i++];
        const char letter = letters.empty() ? 'M' : letters.front();
        if (letter == 'R' || letter == 'C') {  // with a score, then the old and new paths
            if (i + 2 > fields.size()) break;
            if (letter == 'R') files.push_back({std::string(fields[i]), "deleted"});
            files.push_back({std::string(fields[i + 1]), "added"});
            i += 2;
            continue;
        }
        if (i >= fields.size()) break;
        files.push_back({std::string(fields[i++]), status_name(letter)});
    }
    return files;
}

WorkingTreeStatus parse_porcelain_v2(std::string_view output) {
    const auto fields = nul_fields(output);
    WorkingTreeStatus status;
    for (std::size_t i = 0; i < fields.size(); ++i) {
        const auto entry = fields[i];
        if (entry.empty()) continue;
        switch (entry.front()) {
            case '#':         // a header
            case '!': break;  // an ignored file
            case '?':
                status.dirty = true;
                if (entry.size() > 2) status.untracked.emplace_back(entry.substr(2));
                break;
            case '2':  // renamed or copied: its original path is the next field
                status.dirty = true;
                ++i;
                break;
            default: status.dirty = true;  // 1 (changed), u (unmerged)
        }
    }
    return status;
}

void set_changed_files(WorkspaceChanges& changes, std::vector<ChangedFile> tracked,
                       std::vector<std::string> untracked, bool output_cut, std::size_t limit) {
    auto all = std::move(tracked);
    all.reserve(all.size() + untracked.size());
    for (auto& path : untracked) all.push_back({std::move(path), "untracked"});
    // Byte order (char_traits compares as unsigned char), as git sorts; tracked first.
    std::stable_sort(all.begin(), all.end(),
                     [](const ChangedFile& a, const ChangedFile& b) { return a.path < b.path; });
    std::vector<ChangedFile> files;
    files.reserve(all.size());
    for (auto& file : all) {
        if (!files.empty() && files.back().path == file.path) {
            // git diff calls a path deleted once it left the index; it is in the tree still.
            if (file.status == "untracked") files.back().status = "untracked";
            continue;
        }
        files.push_back(std::move(file));
    }
    changes.changed_count = files.size();
    changes.truncated = output_cut || files.size() > limit;
    if (files.size() > limit)
        files.erase(files.begin() + static_cast<std::ptrdiff_t>(limit), files.end());
    for (auto& file : files) file.path = ensure_valid_utf8(std::move(file.path));
    changes.changed_files = std::move(files);
}

boost::json::value to_json(const WorkspaceChanges& changes) {
    return boost::json::value_from(changes);
}

void summarize_workspace(boost::json::value& workspace) {
    if (auto* fields = workspace.if_object()) fields->erase("changed_files");
}

}  // namespace cas::agent
