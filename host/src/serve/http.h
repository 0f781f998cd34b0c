// The HTTP side of `mstar serve`: a Boost.Beast server on a few threads that
// answers GET and HEAD only (nothing it serves writes anything), checks the
// access token on every request, and hands each request to a Handler.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>

namespace mstar::serve {

struct Request {
  std::string method;  // GET or HEAD (others are answered 405 before a handler sees them)
  std::string path;    // percent-decoded, without the query
  std::string raw_path;  // as sent, still encoded
  std::map<std::string, std::string> query;  // decoded; the last of repeated keys wins
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::map<std::string, std::string> headers;  // extra headers (Cache-Control, Set-Cookie, ...)
};

using Handler = std::function<Response(const Request&)>;

struct ServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;  // 0: any free port (the chosen one is reported by on_listening)
  std::string token;     // empty: no token (only allowed on a loopback address)
  int threads = 2;
};

// True for 127.0.0.0/8, ::1 and "localhost".
bool is_loopback(const std::string& host);
// Equal strings, in time that depends on the lengths only, not on where they differ.
bool constant_time_equal(const std::string& a, const std::string& b);
// "%2e%2E" -> "..", "+" stays "+" in paths; false when an escape is malformed
// or decodes to a NUL byte.
bool percent_decode(const std::string& in, std::string& out, bool plus_is_space);

// Binds, then serves until SIGINT/SIGTERM. `on_listening` gets the bound
// port before the first request is accepted (the CLI prints the URL there;
// tests wait for that line). Throws Error(BadInput) for an address that is
// not loopback without a token, Error(Io) when the address cannot be bound.
void run_server(const ServerOptions& options, const Handler& handler,
                const std::function<void(uint16_t port)>& on_listening);

}  // namespace mstar::serve
