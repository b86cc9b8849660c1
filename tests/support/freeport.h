#pragma once

#include <cstdint>

namespace Lockstep::Test
{
    // A TCP port on 127.0.0.1 that was free a moment ago.
    std::uint16_t freePort();
}  // namespace Lockstep::Test
