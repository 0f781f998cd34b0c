#include "serve/http.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/version.hpp>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "mstar/error.h"

namespace mstar::serve {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

bool is_loopback(const std::string& host) {
  if (host == "localhost") return true;
  boost::system::error_code ec;
  const auto addr = asio::ip::make_address(host, ec);
  return !ec && addr.is_loopback();
}

bool constant_time_equal(const std::string& a, const std::string& b) {
  // Every byte of the longer string is read whatever the contents, so the
  // time reveals the lengths at most.
  const size_t n = std::max(a.size(), b.size());
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < n; ++i) {
    const unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    const unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff |= static_cast<unsigned char>(x ^ y);
  }
  return diff == 0;
}

bool percent_decode(const std::string& in, std::string& out, bool plus_is_space) {
  out.clear();
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size() || hex(in[i + 1]) < 0 || hex(in[i + 2]) < 0) return false;
      c = static_cast<char>(hex(in[i + 1]) * 16 + hex(in[i + 2]));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      c = ' ';
    }
    if (c == '\0') return false;
    out += c;
  }
  return true;
}

namespace {

constexpr const char* kCookie = "mstar_token";

struct Shared {
  ServerOptions options;
  Handler handler;
  uint16_t port = 0;
};

Response plain(int status, const std::string& text) {
  Response r;
  r.status = status;
  r.content_type = "text/plain; charset=utf-8";
  r.body = text + "\n";
  return r;
}

std::string cookie_value(std::string_view header, std::string_view name) {
  size_t pos = 0;
  while (pos < header.size()) {
    size_t end = header.find(';', pos);
    if (end == std::string_view::npos) end = header.size();
    std::string_view item = header.substr(pos, end - pos);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    if (item.size() > name.size() && item.substr(0, name.size()) == name && item[name.size()] == '=')
      return std::string(item.substr(name.size() + 1));
    pos = end + 1;
  }
  return "";
}

// The host part of a Host header: "localhost:8080" -> localhost, "[::1]:80" -> ::1.
std::string host_part(std::string_view host) {
  if (!host.empty() && host.front() == '[') {
    const size_t close = host.find(']');
    return std::string(host.substr(1, close == std::string_view::npos ? std::string_view::npos : close - 1));
  }
  return std::string(host.substr(0, host.find(':')));
}

Response answer(const Shared& s, const http::request<http::string_body>& req) {
  if (req.method() != http::verb::get && req.method() != http::verb::head) {
    Response r = plain(405, "mstar serve is read-only: only GET and HEAD");
    r.headers["Allow"] = "GET, HEAD";
    return r;
  }
  Request q;
  q.method = std::string(req.method_string());
  const std::string target(req.target());
  const size_t qmark = target.find('?');
  q.raw_path = target.substr(0, qmark);
  if (q.raw_path.empty() || q.raw_path.front() != '/' || !percent_decode(q.raw_path, q.path, false))
    return plain(400, "bad request path");
  if (qmark != std::string::npos) {
    const std::string qs = target.substr(qmark + 1);
    size_t pos = 0;
    while (pos <= qs.size()) {
      size_t end = qs.find('&', pos);
      if (end == std::string::npos) end = qs.size();
      const std::string item = qs.substr(pos, end - pos);
      const size_t eq = item.find('=');
      std::string k, v;
      if (!item.empty()) {
        if (!percent_decode(item.substr(0, eq), k, true) ||
            !percent_decode(eq == std::string::npos ? "" : item.substr(eq + 1), v, true))
          return plain(400, "bad query string");
        q.query[k] = v;
      }
      pos = end + 1;
    }
  }
  bool set_cookie = false;
  if (!s.options.token.empty()) {
    std::string offered;
    const auto auth = req.find(http::field::authorization);
    if (auth != req.end() && auth->value().starts_with("Bearer ")) offered = std::string(auth->value().substr(7));
    else if (const auto c = req.find(http::field::cookie); c != req.end())
      offered = cookie_value(std::string(c->value()), kCookie);
    if (offered.empty() && q.query.count("token")) {
      offered = q.query["token"];
      set_cookie = true;
    }
    if (!constant_time_equal(offered, s.options.token))
      return plain(401, "a token is needed: Authorization: Bearer TOKEN, or open /?token=TOKEN once");
  } else {
    // Without a token the server is on loopback: refuse other Host names, so a
    // web page cannot read it through DNS rebinding.
    const auto h = req.find(http::field::host);
    if (h == req.end() || !is_loopback(host_part(std::string(h->value()))))
      return plain(403, "Host must be a loopback name (localhost, 127.0.0.1, [::1])");
  }
  q.query.erase("token");
  Response r;
  try {
    r = s.handler(q);
  } catch (const Error& e) {
    r = plain(e.is_bad_input() ? 400 : 500, e.what());
  } catch (const std::exception& e) {
    r = plain(500, e.what());
  }
  if (set_cookie)
    r.headers["Set-Cookie"] = std::string(kCookie) + "=" + s.options.token + "; Path=/; HttpOnly; SameSite=Strict";
  return r;
}

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, const Shared& shared) : stream_(std::move(socket)), shared_(shared) {}
  void start() { read(); }

 private:
  void read() {
    req_ = {};
    parser_.emplace();
    parser_->header_limit(16 * 1024);
    parser_->body_limit(4 * 1024);  // GET only: no body worth reading
    stream_.expires_after(std::chrono::seconds(60));
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    if (ec) return close(ec == http::error::end_of_stream);
    req_ = parser_->release();
    const Response r = answer(shared_, req_);
    auto res = std::make_shared<http::response<http::string_body>>(static_cast<http::status>(r.status),
                                                                   req_.version());
    res->set(http::field::server, "mstar-serve");
    res->set(http::field::content_type, r.content_type);
    res->set("X-Content-Type-Options", "nosniff");
    res->set("Content-Security-Policy",
             "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'");
    for (const auto& [k, v] : r.headers) res->set(k, v);
    res->keep_alive(req_.keep_alive());
    res->body() = r.body;
    res->prepare_payload();
    if (req_.method() == http::verb::head) res->body().clear();
    res_ = res;
    stream_.expires_after(std::chrono::seconds(60));
    http::async_write(stream_, *res_, [self = shared_from_this()](beast::error_code wec, size_t) {
      if (wec || !self->res_->keep_alive()) return self->close(!wec);
      self->read();
    });
  }

  void close(bool graceful) {
    beast::error_code ec;
    if (graceful) stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream_.close();
  }

  beast::tcp_stream stream_;
  const Shared& shared_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::request<http::string_body> req_;
  std::shared_ptr<http::response<http::string_body>> res_;
};

void accept(tcp::acceptor& acceptor, const Shared& shared) {
  acceptor.async_accept(asio::make_strand(acceptor.get_executor()),
                        [a = &acceptor, s = &shared](beast::error_code ec, tcp::socket socket) {
                          if (ec == asio::error::operation_aborted) return;
                          if (!ec) std::make_shared<Session>(std::move(socket), *s)->start();
                          accept(*a, *s);
                        });
}

}  // namespace

void run_server(const ServerOptions& options, const Handler& handler,
                const std::function<void(uint16_t port)>& on_listening) {
  if (!is_loopback(options.host) && options.token.empty())
    throw_bad_input("--host " + options.host +
                    ": serving beyond this machine needs a token (--token or MSTAR_SERVE_TOKEN), checked on every "
                    "request");
  Shared shared{options, handler, 0};
  asio::io_context io(options.threads);
  boost::system::error_code ec;
  const std::string host = options.host == "localhost" ? "127.0.0.1" : options.host;
  const auto addr = asio::ip::make_address(host, ec);
  if (ec) throw_bad_input("--host '" + options.host + "': not an IP address (" + ec.message() + ")");
  tcp::acceptor acceptor(io);
  const tcp::endpoint endpoint(addr, options.port);
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    throw_io("cannot listen on " + options.host + ":" + std::to_string(options.port) + ": " + ec.message());
  shared.port = acceptor.local_endpoint().port();
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](beast::error_code, int) {
    acceptor.close();
    io.stop();
  });
  accept(acceptor, shared);
  on_listening(shared.port);
  std::vector<std::thread> pool;
  for (int i = 1; i < std::max(1, options.threads); ++i) pool.emplace_back([&] { io.run(); });
  io.run();
  for (auto& t : pool) t.join();
}

}  // namespace mstar::serve
