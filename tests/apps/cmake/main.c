/* The cmake buildpack's example app: answers every HTTP request on $PORT
 * with "hello from cmake", plus the GREETING config variable when it is
 * set. One connection at a time is enough for an example. */
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Reads until the blank line that ends the request headers (or EOF). */
static void read_request(int fd) {
  char buf[4096];
  size_t used = 0;
  while (used < sizeof buf - 1) {
    ssize_t n = read(fd, buf + used, sizeof buf - 1 - used);
    if (n <= 0) {
      return;
    }
    used += (size_t)n;
    buf[used] = '\0';
    if (strstr(buf, "\r\n\r\n") || strstr(buf, "\n\n")) {
      return;
    }
  }
}

static void write_all(int fd, const char* data, size_t size) {
  while (size > 0) {
    ssize_t n = write(fd, data, size);
    if (n <= 0) {
      return;
    }
    data += n;
    size -= (size_t)n;
  }
}

int main(void) {
  const char* port_text = getenv("PORT");
  int port = port_text ? atoi(port_text) : 5000;
  const char* greeting = getenv("GREETING");
  char body[1024];
  snprintf(body, sizeof body, "hello from cmake\n%s%s", greeting ? greeting : "",
           greeting && *greeting ? "\n" : "");

  /* A client that hangs up early must not kill the server. */
  signal(SIGPIPE, SIG_IGN);
  int listener = socket(AF_INET, SOCK_STREAM, 0);
  if (listener < 0) {
    perror("hello-cmake: socket");
    return 1;
  }
  int on = 1;
  setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  struct sockaddr_in addr = {0};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_ANY);
  addr.sin_port = htons((unsigned short)port);
  if (bind(listener, (struct sockaddr*)&addr, sizeof addr) != 0 || listen(listener, 16) != 0) {
    perror("hello-cmake: cannot listen");
    return 1;
  }
  printf("listening on port %d\n", port);
  fflush(stdout);

  for (;;) {
    int client = accept(listener, NULL, NULL);
    if (client < 0) {
      continue;
    }
    read_request(client);
    char head[256];
    int head_size = snprintf(head, sizeof head,
                             "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n"
                             "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                             strlen(body));
    write_all(client, head, (size_t)head_size);
    write_all(client, body, strlen(body));
    close(client);
  }
}
