#include "orchestrator/protocol.hpp"

#include <fmt/format.h>

namespace locsweep::protocol {

using nlohmann::json;

namespace {

std::string_view kind_of(const json& value) {
  return value.type_name();
}

// The message's "type"; ProtocolError when it has none.
std::string type_of(const json& message) {
  if (!message.is_object())
    throw ProtocolError(fmt::format("protocol message is a {}, not an object: {:.200}",
                                    kind_of(message), message.dump()));
  const auto it = message.find("type");
  if (it == message.end() || !it->is_string())
    throw ProtocolError(
        fmt::format("protocol message without a string \"type\": {:.200}", message.dump()));
  return it->get<std::string>();
}

// Reads the required field `key` of a message of type `type`, checked by `is`.
template <class T>
T field(const json& m, const char* type, const char* key, bool (json::*is)() const,
        const char* expected) {
  const auto it = m.find(key);
  if (it == m.end())
    throw ProtocolError(
        fmt::format("'{}' message without its field '{}': {:.200}", type, key, m.dump()));
  if (!((*it).*is)())
    throw ProtocolError(fmt::format("'{}' message: field '{}' must be {}, not {} ({:.100})", type,
                                    key, expected, kind_of(*it), it->dump()));
  return it->get<T>();
}

int64_t integer(const json& m, const char* type, const char* key) {
  return field<int64_t>(m, type, key, &json::is_number_integer, "an integer");
}
double number(const json& m, const char* type, const char* key) {
  return field<double>(m, type, key, &json::is_number, "a number");
}
std::string text(const json& m, const char* type, const char* key) {
  return field<std::string>(m, type, key, &json::is_string, "a string");
}
json object(const json& m, const char* type, const char* key) {
  return field<json>(m, type, key, &json::is_object, "an object");
}
json array(const json& m, const char* type, const char* key) {
  return field<json>(m, type, key, &json::is_array, "an array");
}

Ready ready_from(const json& m) {
  Ready r;
  r.host = text(m, Ready::kType, "host");
  r.pid = integer(m, Ready::kType, "pid");
  r.device = text(m, Ready::kType, "device");
  r.threads = static_cast<int>(integer(m, Ready::kType, "threads"));
  r.versions = object(m, Ready::kType, "versions");
  return r;
}

Finished finished_from(const json& m) {
  Finished f;
  f.attempt_id = integer(m, Finished::kType, "attempt_id");
  f.result = readable_result(object(m, Finished::kType, "result"));
  return f;
}

Assign assign_from(const json& m) {
  Assign a;
  a.attempt_id = integer(m, Assign::kType, "attempt_id");
  a.hash = text(m, Assign::kType, "hash");
  a.number = static_cast<int>(integer(m, Assign::kType, "number"));
  a.config = object(m, Assign::kType, "config");
  a.out_dir = text(m, Assign::kType, "out_dir");
  a.timeout_s = number(m, Assign::kType, "timeout_s");
  a.kill_grace_s = number(m, Assign::kType, "kill_grace_s");
  return a;
}

}  // namespace

TrialResult readable_result(const json& result) {
  try {
    return trial_result_from_json(result);
  } catch (const std::exception& e) {
    TrialResult r;
    r.outcome = Outcome::crash;
    r.message = std::string("unreadable result: ") + e.what();
    return r;
  }
}

json to_json(const Ready& m) {
  return {{"type", Ready::kType}, {"host", m.host},       {"pid", m.pid},
          {"device", m.device},   {"threads", m.threads}, {"versions", m.versions}};
}
json to_json(const Events& m) {
  return {{"type", Events::kType}, {"attempt_id", m.attempt_id}, {"events", m.events}};
}
json to_json(const Finished& m) {
  return {{"type", Finished::kType},
          {"attempt_id", m.attempt_id},
          {"result", locsweep::to_json(m.result)}};
}
json to_json(const Heartbeat& m) {
  return {{"type", Heartbeat::kType}, {"attempt_id", m.attempt_id}};
}
json to_json(const Bye&) {
  return {{"type", Bye::kType}};
}
json to_json(const Assign& m) {
  return {{"type", Assign::kType},    {"attempt_id", m.attempt_id},
          {"hash", m.hash},           {"number", m.number},
          {"config", m.config},       {"out_dir", m.out_dir},
          {"timeout_s", m.timeout_s}, {"kill_grace_s", m.kill_grace_s}};
}
json to_json(const Stop&) {
  return {{"type", Stop::kType}};
}
json to_json(const Shutdown&) {
  return {{"type", Shutdown::kType}};
}
json to_json(const Abandon&) {
  return {{"type", Abandon::kType}};
}

FromRank decode_from_rank(const json& m) {
  const std::string type = type_of(m);
  if (type == Ready::kType) return ready_from(m);
  if (type == Events::kType)
    return Events{integer(m, Events::kType, "attempt_id"), array(m, Events::kType, "events")};
  if (type == Finished::kType) return finished_from(m);
  if (type == Heartbeat::kType) return Heartbeat{integer(m, Heartbeat::kType, "attempt_id")};
  if (type == Bye::kType) return Bye{};
  throw ProtocolError(
      fmt::format("unknown message type '{}' from a worker rank: {:.200}", type, m.dump()));
}

FromCoordinator decode_from_coordinator(const json& m) {
  const std::string type = type_of(m);
  if (type == Assign::kType) return assign_from(m);
  if (type == Stop::kType) return Stop{};
  if (type == Shutdown::kType) return Shutdown{};
  if (type == Abandon::kType) return Abandon{};
  throw ProtocolError(
      fmt::format("unknown message type '{}' from the coordinator: {:.200}", type, m.dump()));
}

}  // namespace locsweep::protocol
