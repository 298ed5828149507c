// Tests for server/common/thread_name.h: the name reaches the system, cut
// to what Linux keeps.
#include "server/common/thread_name.h"

#include <pthread.h>

#include <string>
#include <thread>

#include "gtest/gtest.h"

namespace importgate {
namespace {

std::string NameOfThisThread() {
  char name[16] = {};
  EXPECT_EQ(pthread_getname_np(pthread_self(), name, sizeof(name)), 0);
  return name;
}

TEST(ThreadNameTest, NamesTheCallingThreadOnly) {
  const std::string before = NameOfThisThread();
  std::string inside;
  std::thread([&] {
    SetCurrentThreadName("ig-test");
    inside = NameOfThisThread();
  }).join();
  EXPECT_EQ(inside, "ig-test");
  EXPECT_EQ(NameOfThisThread(), before);
}

TEST(ThreadNameTest, ALongNameIsCutTo15Bytes) {
  std::string inside;
  std::thread([&] {
    SetCurrentThreadName("ig-a-name-longer-than-fifteen");
    inside = NameOfThisThread();
  }).join();
  EXPECT_EQ(inside, "ig-a-name-longe");
}

}  // namespace
}  // namespace importgate
