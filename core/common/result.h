#pragma once

#include <utility>
#include <variant>

namespace Lockstep
{
    // GCC 12 has no std::expected under C++20; this is the small subset we need.
    template <typename E>
    class Unexpected
    {
    public:
        explicit Unexpected(E error)
            : m_error(std::move(error))
        {}
        E &error() &
        {
            return m_error;
        }
        E &&error() &&
        {
            return std::move(m_error);
        }

    private:
        E m_error;
    };

    template <typename E>
    Unexpected<E> unexpected(E error)
    {
        return Unexpected<E>(std::move(error));
    }

    template <typename T, typename E>
    class [[nodiscard]] Result
    {
    public:
        Result(T value)
            : m_data(std::in_place_index<0>, std::move(value))
        {}
        Result(Unexpected<E> error)
            : m_data(std::in_place_index<1>, std::move(error).error())
        {}

        bool hasValue() const
        {
            return m_data.index() == 0;
        }
        explicit operator bool() const
        {
            return hasValue();
        }

        T &value() &
        {
            return std::get<0>(m_data);
        }
        const T &value() const &
        {
            return std::get<0>(m_data);
        }
        T &&value() &&
        {
            return std::get<0>(std::move(m_data));
        }
        T *operator->()
        {
            return &value();
        }
        const T *operator->() const
        {
            return &value();
        }
        T &operator*() &
        {
            return value();
        }
        const T &operator*() const &
        {
            return value();
        }

        E &error() &
        {
            return std::get<1>(m_data);
        }
        const E &error() const &
        {
            return std::get<1>(m_data);
        }
        E &&error() &&
        {
            return std::get<1>(std::move(m_data));
        }

    private:
        std::variant<T, E> m_data;
    };

    // Result of an operation that yields nothing but may fail.
    struct Ok
    {};
}  // namespace Lockstep
